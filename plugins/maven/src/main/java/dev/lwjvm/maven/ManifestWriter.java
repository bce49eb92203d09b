package dev.lwjvm.maven;

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

/**
 * Writes the manifest (app.yaml, manifests/README.md) the Maven project's settings describe.
 * Scalars are written as JSON strings, which YAML reads unchanged, so no value needs care.
 */
final class ManifestWriter {
    final String name;
    final File jar;
    final List<File> classpath = new ArrayList<>();
    String mainClass;
    List<String> args;
    List<String> jvmOptions;
    Map<String, String> env;
    String memory;
    List<String> ports;

    ManifestWriter(String name, File jar) {
        this.name = name;
        this.jar = jar;
    }

    /** A valid lwjvm name from an artifactId: lower case, other characters replaced by '-'. */
    static String defaultName(String artifactId) {
        String n = artifactId.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
        return n.isEmpty() ? "app" : n;
    }

    /** Whether `jar` is a Spring Boot executable jar (its manifest names a Start-Class). */
    static boolean isSpringBootJar(File jar) {
        try (JarFile jf = new JarFile(jar)) {
            return jf.getManifest() != null && jf.getManifest().getMainAttributes().getValue("Start-Class") != null;
        } catch (IOException e) {
            return false;
        }
    }

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

    String render() {
        StringBuilder y = new StringBuilder();
        y.append("# Written by lwjvm-maven-plugin from the POM; set <manifest> to use your own.\n");
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
                        .append(q(e.getValue() == null ? "" : e.getValue())).append('\n');
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

    /** Writes the manifest to `out`, leaving the file alone when it already says the same. */
    void write(File out) throws IOException {
        byte[] text = render().getBytes(StandardCharsets.UTF_8);
        if (out.isFile() && Arrays.equals(Files.readAllBytes(out.toPath()), text)) {
            return;
        }
        Files.createDirectories(out.getParentFile().toPath());
        Files.write(out.toPath(), text);
    }
}
