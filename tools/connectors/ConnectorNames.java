// Prints the connector names each plugin of a Trino server directory registers, as JSON.
// Each plugin is loaded the way the server loads it (its own class loader over plugin/<name>/*.jar,
// the server's lib/ as parent) and asked for getConnectorFactories(); the names are what
// `connector.name` in a catalog file must say. Run: java ConnectorNames.java <trino-server-dir>
import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.TreeSet;

public class ConnectorNames {
    static URL[] jars(File dir) throws Exception {
        List<URL> urls = new ArrayList<>();
        File[] files = dir.listFiles((d, n) -> n.endsWith(".jar"));
        if (files != null) for (File f : files) urls.add(f.toURI().toURL());
        return urls.toArray(new URL[0]);
    }

    public static void main(String[] args) throws Exception {
        File server = new File(args[0]);
        ClassLoader lib = new URLClassLoader(jars(new File(server, "lib")), ClassLoader.getPlatformClassLoader());
        Class<?> pluginType = lib.loadClass("io.trino.spi.Plugin");
        TreeSet<String> names = new TreeSet<>();
        List<String> failed = new ArrayList<>();
        File[] plugins = new File(server, "plugin").listFiles(File::isDirectory);
        for (File plugin : plugins) {
            try {
                ClassLoader loader = new URLClassLoader(jars(plugin), lib);
                for (Object p : ServiceLoader.load(pluginType, loader)) {
                    Method m = pluginType.getMethod("getConnectorFactories");
                    for (Object factory : (Iterable<?>) m.invoke(p)) {
                        Method getName = factory.getClass().getMethod("getName");
                        getName.setAccessible(true);
                        names.add((String) getName.invoke(factory));
                    }
                }
            } catch (Throwable e) {
                failed.add(plugin.getName() + ": " + e);
            }
        }
        StringBuilder out = new StringBuilder("{\"connectors\": [");
        String sep = "";
        for (String n : names) { out.append(sep).append('"').append(n).append('"'); sep = ", "; }
        out.append("], \"failed\": [");
        sep = "";
        for (String f : failed) { out.append(sep).append('"').append(f.replace("\"", "'")).append('"'); sep = ", "; }
        System.out.println(out.append("]}"));
    }
}
