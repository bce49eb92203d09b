package dev.lwjvm.plugin;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The manifest (app.yaml, manifests/README.md) a build's settings describe, and what the plugins
 * need to know about a manifest the user names instead. Scalars are written as JSON strings,
 * which YAML reads unchanged, so no value needs care.
 */
public final class AppManifest {
    private static final Pattern NAME = Pattern.compile("(?m)^name:\\s*[\"']?([A-Za-z0-9._-]+)");

    public final String name;
    public final File jar;
    /** app.classpath: the runtime libraries (left empty for a Spring Boot executable jar). */
    public final List<File> classpath = new ArrayList<>();
    public String mainClass;
    public List<String> args;
    public List<String> jvmOptions;
    public Map<String, String> env;
    public String memory;
    public List<String> ports;

    public AppManifest(String name, File jar) {
        this.name = name;
        this.jar = jar;
    }

    /** A valid lwjvm name from a project's name: lower case, other characters replaced by '-'. */
    public static String defaultName(String projectName) {
        String n = projectName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
        return n.isEmpty() ? "app" : n;
    }

    /** Whether `jar` is a Spring Boot executable jar (its manifest names a Start-Class). */
    public static boolean isSpringBootJar(File jar) {
        try (JarFile jf = new JarFile(jar)) {
            return jf.getManifest() != null && jf.getManifest().getMainAttributes().getValue("Start-Class") != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** The top-level name: of an existing manifest. */
    public static String nameIn(File manifest) throws PluginException {
        String text;
        try {
            text = new String(Files.readAllBytes(manifest.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new PluginException("lwjvm: cannot read " + manifest + ": " + e.getMessage(), e);
        }
        Matcher m = NAME.matcher(text);
        if (m.find()) {
            return m.group(1);
        }
        throw new PluginException("lwjvm: " + manifest + " has no top-level name:");
    }

    /**
     * Checks a manifest the user names: it exists, and none of the settings that would go into a
     * generated one is set (`inline` names those that are, see {@link #settingsSet}); `buildFile`
     * says where they were set ("the POM", "build.gradle").
     */
    public static void checkExisting(File manifest, List<String> inline, String buildFile) throws PluginException {
        if (!inline.isEmpty()) {
            throw new PluginException("lwjvm: manifest " + manifest + " is used as it is: set "
                    + String.join(", ", inline) + " in it instead of " + buildFile);
        }
        if (!manifest.isFile()) {
            throw new PluginException("lwjvm: manifest not found: " + manifest);
        }
    }

    /** The names of the settings that are set (non-null, non-empty), in the documented order. */
    public static List<String> settingsSet(String memory, List<String> ports, List<String> jvmOptions,
            Map<String, String> env, String mainClass, List<String> args) {
        List<String> set = new ArrayList<>();
        if (memory != null) set.add("memory");
        if (ports != null && !ports.isEmpty()) set.add("ports");
        if (jvmOptions != null && !jvmOptions.isEmpty()) set.add("jvmOptions");
        if (env != null && !env.isEmpty()) set.add("env");
        if (mainClass != null) set.add("mainClass");
        if (args != null && !args.isEmpty()) set.add("args");
        return set;
    }

    /**
     * The files the manifest names: the jar and the class path. Written into the build's output
     * directory, it names them outside its own directory, so lwjvm is told to allow each one
     * ({@link LwjvmCommand#allowing}) and nothing else of the build's caches.
     */
    public List<File> files() {
        List<File> files = new ArrayList<>();
        files.add(jar);
        files.addAll(classpath);
        return files;
    }

    /** A JSON string literal, which YAML reads unchanged. */
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\t': b.append("\\t"); break;
                case '\r': b.append("\\r"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        return b.append('"').toString();
    }

    private static String list(List<String> items) {
        List<String> quoted = new ArrayList<>();
        for (String s : items) {
            quoted.add(q(s));
        }
        return "[" + String.join(", ", quoted) + "]";
    }

    /** The manifest's text, under a first comment line `header`. */
    public String render(String header) {
        StringBuilder y = new StringBuilder();
        y.append("# ").append(header).append('\n');
        y.append("name: ").append(q(name)).append('\n');
        y.append("app:\n");
        y.append("  jar: ").append(q(jar.getAbsolutePath())).append('\n');
        if (!classpath.isEmpty()) {
            y.append("  classpath:\n");
            for (File f : classpath) {
                y.append("    - ").append(q(f.getAbsolutePath())).append('\n');
            }
        }
        if (mainClass != null) {
            y.append("  main: ").append(q(mainClass)).append('\n');
        }
        if (args != null && !args.isEmpty()) {
            y.append("  args: ").append(list(args)).append('\n');
        }
        if (jvmOptions != null && !jvmOptions.isEmpty()) {
            y.append("jvm:\n  options: ").append(list(jvmOptions)).append('\n');
        }
        if (env != null && !env.isEmpty()) {
            y.append("env:\n");
            for (Map.Entry<String, String> e : new TreeMap<>(env).entrySet()) {
                y.append("  ").append(q(e.getKey())).append(": ")
                        .append(q(e.getValue() == null ? "" : String.valueOf(e.getValue()))).append('\n');
            }
        }
        if (memory != null || (ports != null && !ports.isEmpty())) {
            y.append("vm:\n");
            if (memory != null) {
                y.append("  memory: ").append(q(memory)).append('\n');
            }
            if (ports != null && !ports.isEmpty()) {
                y.append("  ports: ").append(list(ports)).append('\n');
            }
        }
        return y.toString();
    }

    /**
     * Writes the manifest to `out`, leaving the file alone when it already says the same (so
     * lwjvm finds the image up to date when nothing changed).
     */
    public void write(File out, String header) throws PluginException {
        byte[] text = render(header).getBytes(StandardCharsets.UTF_8);
        try {
            if (out.isFile() && Arrays.equals(Files.readAllBytes(out.toPath()), text)) {
                return;
            }
            Files.createDirectories(out.getAbsoluteFile().getParentFile().toPath());
            Files.write(out.toPath(), text);
        } catch (IOException e) {
            throw new PluginException("lwjvm: cannot write " + out + ": " + e.getMessage(), e);
        }
    }
}
