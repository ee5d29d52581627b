// The smallest main that starts a Trino server assembled from Maven Central jars
// (tools/harness/assembled.py). Trino's own io.trino.server.TrinoServer (artifact
// trino-server-main, not on Maven Central after 476) does the same: check the Java major, then
// `new Server().start(version)`. The version comes from -Dtrino.version, since every node reports
// it in /v1/info and a coordinator gives no work to a node of another version.
public final class TrinoMain {
    private TrinoMain() {}

    public static void main(String[] args) {
        String version = System.getProperty("trino.version");
        if (version == null) {
            System.err.println("ERROR: -Dtrino.version is not set");
            System.exit(100);
        }
        if (Runtime.version().feature() < 25) {
            System.err.printf("ERROR: Trino %s requires Java 25+ (found %s)%n", version, Runtime.version());
            System.exit(100);
        }
        new io.trino.server.Server().start(version);
    }
}
