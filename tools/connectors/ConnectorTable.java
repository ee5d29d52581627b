// Prints, as JSON, each connector a Trino server directory's plugins register and the catalog
// properties its plugin can bind.
// Names: each plugin is loaded the way the server loads it (its own class loader over
// plugin/<name>/*.jar, the server's lib/ as parent) and asked for getConnectorFactories(); they are
// what `connector.name` in a catalog file must say.
// Properties: every @Config and @LegacyConfig name (io.airlift.configuration, how Trino binds a
// catalog's properties) on a method of a class in the plugin's own jars, read from the class files
// with java.lang.classfile (JDK 24+), so no class is loaded or run. That is every name the
// plugin's classes can bind, a superset of what one connector binds (a plugin's jars hold shared
// modules too): a property outside it is one Trino would refuse ("Configuration property ... was
// not used"). A config bound under a prefix is listed without it.
// Run: java ConnectorTable.java <trino-server-dir>
import java.io.File;
import java.lang.classfile.Annotation;
import java.lang.classfile.AnnotationElement;
import java.lang.classfile.AnnotationValue;
import java.lang.classfile.Attributes;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

public class ConnectorTable {
    static final Set<String> CONFIG = Set.of("Lio/airlift/configuration/Config;", "Lio/airlift/configuration/LegacyConfig;");

    static File[] jarFiles(File dir) {
        File[] files = dir.listFiles((d, n) -> n.endsWith(".jar"));
        return files == null ? new File[0] : files;
    }

    static URL[] jars(File dir) throws Exception {
        List<URL> urls = new ArrayList<>();
        for (File f : jarFiles(dir)) urls.add(f.toURI().toURL());
        return urls.toArray(new URL[0]);
    }

    static void names(Annotation annotation, Set<String> out) {
        for (AnnotationElement element : annotation.elements()) {
            if (!element.name().equalsString("value")) continue;
            if (element.value() instanceof AnnotationValue.OfString s) out.add(s.stringValue());
            if (element.value() instanceof AnnotationValue.OfArray array)
                for (AnnotationValue v : array.values()) if (v instanceof AnnotationValue.OfString s) out.add(s.stringValue());
        }
    }

    static Set<String> properties(File plugin) throws Exception {
        Set<String> out = new TreeSet<>();
        for (File jar : jarFiles(plugin)) {
            try (JarFile file = new JarFile(jar)) {
                for (JarEntry entry : Collections.list(file.entries())) {
                    if (!entry.getName().endsWith(".class")) continue;
                    ClassModel model = ClassFile.of().parse(file.getInputStream(entry).readAllBytes());
                    for (MethodModel method : model.methods())
                        method.findAttribute(Attributes.runtimeVisibleAnnotations()).ifPresent(a -> {
                            for (Annotation annotation : a.annotations())
                                if (CONFIG.contains(annotation.classSymbol().descriptorString())) names(annotation, out);
                        });
                }
            }
        }
        return out;
    }

    static String quoted(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    public static void main(String[] args) throws Exception {
        File server = new File(args[0]);
        ClassLoader lib = new URLClassLoader(jars(new File(server, "lib")), ClassLoader.getPlatformClassLoader());
        Class<?> pluginType = lib.loadClass("io.trino.spi.Plugin");
        Map<String, Set<String>> connectors = Collections.synchronizedMap(new TreeMap<>());
        List<String> failed = Collections.synchronizedList(new ArrayList<>());
        Arrays.stream(new File(server, "plugin").listFiles(File::isDirectory)).parallel().forEach(plugin -> {
            try {
                List<String> registered = new ArrayList<>();
                ClassLoader loader = new URLClassLoader(jars(plugin), lib);
                for (Object p : ServiceLoader.load(pluginType, loader)) {
                    Method m = pluginType.getMethod("getConnectorFactories");
                    for (Object factory : (Iterable<?>) m.invoke(p)) {
                        Method getName = factory.getClass().getMethod("getName");
                        getName.setAccessible(true);
                        registered.add((String) getName.invoke(factory));
                    }
                }
                if (registered.isEmpty()) return;
                Set<String> props = properties(plugin);
                for (String name : registered) connectors.put(name, props);
            } catch (Throwable e) {
                failed.add(plugin.getName() + ": " + e);
            }
        });
        StringBuilder out = new StringBuilder("{\"connectors\": {");
        String sep = "";
        for (Map.Entry<String, Set<String>> c : connectors.entrySet()) {
            out.append(sep).append(quoted(c.getKey())).append(": [");
            String inner = "";
            for (String p : c.getValue()) { out.append(inner).append(quoted(p)); inner = ", "; }
            out.append(']');
            sep = ", ";
        }
        out.append("}, \"failed\": [");
        sep = "";
        for (String f : failed) { out.append(sep).append(quoted(f)); sep = ", "; }
        System.out.println(out.append("]}"));
    }
}
