import json, time, urllib.request, urllib.error
from tools.harness.trino import TrinoFactory
f = TrinoFactory()
c = f.start_cluster(workers=1)
try:
    c.wait_ready() if hasattr(c, "wait_ready") else None
    url = c.url
    def req(method, u, body=None):
        r = urllib.request.Request(u, data=body, method=method, headers={"X-Trino-User": "probe"})
        try:
            with urllib.request.urlopen(r, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            print("HTTP", e.code, method, u, e.read()[:300]); raise
    page = req("POST", url + "/v1/statement", b"SELECT count(*) FROM tpch.tiny.orders")
    pages = [page]
    while "nextUri" in page:
        nxt = page["nextUri"]
        # look at the query before each GET
        info = {}
        basic = ([q for q in req("GET", url + "/v1/query") if q["queryId"] == page["id"]] or [{"state": "unlisted", "queryStats": {}}])[0]
        print("before GET:", page["stats"]["state"], "| basic.state", basic["state"], "| endTime", basic["queryStats"].get("endTime"), "| keys", sorted(k for k in basic if k not in ("query",)), "| data" in page)
        time.sleep(1.0)
        page = req("GET", nxt)
    info = {}
    basic = ([q for q in req("GET", url + "/v1/query") if q["queryId"] == page["id"]] or [{"state": "unlisted", "queryStats": {}}])[0]
    print("after final:", page["stats"]["state"], basic["state"], json.dumps(basic)[:1500])
finally:
    f.stop_all()
