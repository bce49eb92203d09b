package dev.lwjvm.gradle;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.gradle.api.DefaultTask;
import org.gradle.api.GradleException;
import org.gradle.api.Project;
import org.gradle.api.Task;
import org.gradle.api.artifacts.Configuration;
import org.gradle.api.tasks.Internal;
import org.gradle.api.tasks.TaskAction;

/**
 * One lwjvm command over the project: writes the manifest the {@code lwjvm { }} settings describe
 * (or takes the one they name), runs lwjvm with its output in Gradle's log, and turns lwjvm's
 * one-line error into the task's failure. It always runs (it has no outputs Gradle could check).
 */
public class LwjvmTask extends DefaultTask {
    enum Command { BUILD, RUN, DEPLOY, STOP }

    private LwjvmExtension ext;
    private Command command;
    /** The generated manifest's files outside its directory: the jar and the dependencies. */
    private final List<File> generatedOutside = new ArrayList<>();

    void configure(LwjvmExtension ext, Command command) {
        this.ext = ext;
        this.command = command;
    }

    /** The lwjvm command this task runs (build, run, deploy or stop). */
    @Internal
    public String getCommand() {
        return command.name().toLowerCase(Locale.ROOT);
    }

    /** bootJar when the project has it (Spring Boot's plugin), else jar, else null. */
    static Task archiveTask(Project project) {
        Task t = project.getTasks().findByName("bootJar");
        return t != null ? t : project.getTasks().findByName("jar");
    }

    @TaskAction
    public void lwjvm() {
        if (ext.isSkip()) {
            getLogger().lifecycle("lwjvm: skipped");
            return;
        }
        File manifest = ext.getManifest();
        if (manifest != null) {
            List<String> set = new ArrayList<>();
            if (ext.getMemory() != null) set.add("memory");
            if (!ext.getPorts().isEmpty()) set.add("ports");
            if (!ext.getJvmOptions().isEmpty()) set.add("jvmOptions");
            if (!ext.getEnv().isEmpty()) set.add("env");
            if (ext.getMainClass() != null) set.add("mainClass");
            if (!ext.getArgs().isEmpty()) set.add("args");
            if (!set.isEmpty()) {
                throw new GradleException("lwjvm: manifest " + manifest + " is used as it is: set "
                        + String.join(", ", set) + " in it instead of build.gradle");
            }
            if (!manifest.isFile()) {
                throw new GradleException("lwjvm: manifest not found: " + manifest);
            }
        } else if (command != Command.STOP) {
            manifest = writeManifest();
        }
        File image = new File(ext.getOutputDirectory(), "image");
        List<String> a = new ArrayList<>();
        a.add(getCommand());
        switch (command) {
            case BUILD:
                a.addAll(Arrays.asList(manifest.getPath(), "-o", image.getPath()));
                break;
            case RUN:
                a.addAll(Arrays.asList("-o", image.getPath()));
                if (ext.getTimeout() != null) {
                    a.addAll(Arrays.asList("--timeout", String.valueOf(ext.getTimeout())));
                }
                a.add(manifest.getPath());
                break;
            case DEPLOY:
                a.addAll(Arrays.asList("-o", image.getPath()));
                if (ext.getStopTimeout() != null) {
                    a.addAll(Arrays.asList("--stop-timeout", String.valueOf(ext.getStopTimeout())));
                }
                a.add(manifest.getPath());
                if (ext.getName() != null) {
                    a.addAll(Arrays.asList("--name", ext.getName()));
                }
                break;
            case STOP:
                if (ext.getStopTimeout() != null) {
                    a.addAll(Arrays.asList("-t", String.valueOf(ext.getStopTimeout())));
                }
                a.add(appName());
                break;
        }
        if (command != Command.STOP) {
            // The manifest lives in build/lwjvm; its jar and dependencies (build/libs, Gradle's
            // caches) are outside it, so they are allowed by name, with the lwjvm { } setting's.
            List<File> allowed = new ArrayList<>(generatedOutside);
            allowed.addAll(ext.getAllowOutside());
            int at = 1;
            for (File f : allowed) {
                a.add(at++, "--allow-outside");
                a.add(at++, f.getAbsolutePath());
            }
        }
        run(a);
    }

    private String appName() {
        if (ext.getName() != null) {
            return ext.getName();
        }
        File manifest = ext.getManifest();
        if (manifest != null) {
            try {
                Matcher m = Pattern.compile("(?m)^name:\\s*[\"']?([A-Za-z0-9._-]+)")
                        .matcher(new String(Files.readAllBytes(manifest.toPath()), StandardCharsets.UTF_8));
                if (m.find()) {
                    return m.group(1);
                }
            } catch (IOException e) {
                throw new GradleException("lwjvm: cannot read " + manifest + ": " + e.getMessage(), e);
            }
            throw new GradleException("lwjvm: " + manifest + " has no top-level name:");
        }
        String n = getProject().getName().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9._-]", "-");
        return n.isEmpty() ? "app" : n;
    }

    /** The archive file of a jar task: getArchiveFile() in Gradle 5.1+, getArchivePath() before. */
    private static File archiveFile(Task task) {
        try {
            try {
                Method m = task.getClass().getMethod("getArchiveFile");
                Object provider = m.invoke(task);
                Object regular = provider.getClass().getMethod("get").invoke(provider);
                return (File) regular.getClass().getMethod("getAsFile").invoke(regular);
            } catch (NoSuchMethodException e) {
                return (File) task.getClass().getMethod("getArchivePath").invoke(task);
            }
        } catch (ReflectiveOperationException e) {
            throw new GradleException("lwjvm: cannot find the archive of task " + task.getName() + ": " + e, e);
        }
    }

    /** The application plugin's main class: mainClass (Gradle 6.4+) or mainClassName (before). */
    private String applicationMainClass() {
        Object app = getProject().getExtensions().findByName("application");
        if (app != null) {
            try {
                Object prop = app.getClass().getMethod("getMainClass").invoke(app);
                Object v = prop.getClass().getMethod("getOrNull").invoke(prop);
                if (v != null) {
                    return v.toString();
                }
            } catch (ReflectiveOperationException e) {
                // Gradle before 6.4: the convention property below.
            }
        }
        Object v = getProject().hasProperty("mainClassName") ? getProject().property("mainClassName") : null;
        return v == null ? null : v.toString();
    }

    private File writeManifest() {
        File jar = ext.getJar();
        Task archive = archiveTask(getProject());
        if (jar == null && archive != null) {
            jar = archiveFile(archive);
        }
        if (jar == null || !jar.isFile()) {
            throw new GradleException("lwjvm: no application jar" + (jar == null ? "" : " (" + jar + ")")
                    + ": apply the java plugin or set lwjvm { jar = ... }");
        }
        boolean bootJar = isSpringBootJar(jar);
        StringBuilder y = new StringBuilder();
        y.append("# Written by the lwjvm Gradle plugin from build.gradle; set lwjvm { manifest = ... } to use your own.\n");
        y.append("name: ").append(q(appName())).append('\n');
        y.append("app:\n  jar: ").append(q(jar.getAbsolutePath())).append('\n');
        generatedOutside.add(jar);
        Configuration runtime = getProject().getConfigurations().findByName("runtimeClasspath");
        if (!bootJar && runtime != null && !runtime.getFiles().isEmpty()) {
            // A Spring Boot jar carries its libraries inside; any other jar needs the runtime ones.
            y.append("  classpath:\n");
            for (File f : runtime.getFiles()) {
                y.append("    - ").append(q(f.getAbsolutePath())).append('\n');
                generatedOutside.add(f);
            }
        }
        String main = ext.getMainClass() != null ? ext.getMainClass() : (bootJar ? null : applicationMainClass());
        if (main != null) {
            y.append("  main: ").append(q(main)).append('\n');
        }
        if (!ext.getArgs().isEmpty()) {
            y.append("  args: ").append(list(ext.getArgs())).append('\n');
        }
        if (!ext.getJvmOptions().isEmpty()) {
            y.append("jvm:\n  options: ").append(list(ext.getJvmOptions())).append('\n');
        }
        if (!ext.getEnv().isEmpty()) {
            y.append("env:\n");
            for (Map.Entry<String, String> e : new TreeMap<>(ext.getEnv()).entrySet()) {
                y.append("  ").append(q(e.getKey())).append(": ").append(q(String.valueOf(e.getValue()))).append('\n');
            }
        }
        if (ext.getMemory() != null || !ext.getPorts().isEmpty()) {
            y.append("vm:\n");
            if (ext.getMemory() != null) {
                y.append("  memory: ").append(q(ext.getMemory())).append('\n');
            }
            if (!ext.getPorts().isEmpty()) {
                y.append("  ports: ").append(list(ext.getPorts())).append('\n');
            }
        }
        File out = new File(ext.getOutputDirectory(), "app.yaml");
        byte[] text = y.toString().getBytes(StandardCharsets.UTF_8);
        try {
            if (!(out.isFile() && Arrays.equals(Files.readAllBytes(out.toPath()), text))) {
                Files.createDirectories(out.getParentFile().toPath());
                Files.write(out.toPath(), text);
            }
        } catch (IOException e) {
            throw new GradleException("lwjvm: cannot write " + out + ": " + e.getMessage(), e);
        }
        getLogger().lifecycle("lwjvm: manifest " + out + (bootJar ? " (Spring Boot jar " + jar.getName() + ")" : ""));
        return out;
    }

    static boolean isSpringBootJar(File jar) {
        try (JarFile jf = new JarFile(jar)) {
            return jf.getManifest() != null && jf.getManifest().getMainAttributes().getValue("Start-Class") != null;
        } catch (IOException e) {
            return false;
        }
    }

    /** A JSON string literal, which YAML reads unchanged. */
    static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
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

    private File executable() {
        String exe = ext.getExecutable();
        if (exe.contains("/")) {
            File f = getProject().file(exe);
            if (!f.canExecute()) {
                throw new GradleException("lwjvm: " + f + " is not an executable (lwjvm { executable })");
            }
            return f;
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                File f = new File(dir.isEmpty() ? "." : dir, exe);
                if (f.isFile() && f.canExecute()) {
                    return f;
                }
            }
        }
        throw new GradleException("lwjvm: '" + exe + "' not found in PATH: install lwjvm or set "
                + "lwjvm { executable = '/path/to/lwjvm' }");
    }

    /** Runs lwjvm, streaming its stdout and stderr into the log; a non-zero exit fails the task. */
    private void run(List<String> arguments) {
        List<String> cmd = new ArrayList<>();
        cmd.add(executable().getPath());
        cmd.addAll(arguments);
        getLogger().lifecycle("lwjvm: running " + String.join(" ", cmd));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(getProject().getProjectDir());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new GradleException("lwjvm: cannot start " + cmd.get(0) + ": " + e.getMessage(), e);
        }
        final String[] last = new String[1];
        Thread out = pump(p.getInputStream(), line -> getLogger().lifecycle(line));
        Thread err = pump(p.getErrorStream(), line -> {
            synchronized (last) {
                last[0] = line;
            }
            getLogger().lifecycle(line);
        });
        int code;
        try {
            code = p.waitFor();
            out.join();
            err.join();
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new GradleException("lwjvm: interrupted", e);
        }
        if (code != 0) {
            String line;
            synchronized (last) {
                line = last[0];
            }
            // lwjvm's error is its last line on stderr; any other last line is the app's own.
            throw new GradleException(line != null && line.startsWith("lwjvm:") ? line
                    : "lwjvm " + arguments.get(0) + " exited with code " + code);
        }
    }

    private static Thread pump(InputStream in, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                sink.accept("lwjvm gradle plugin: reading lwjvm's output failed: " + e.getMessage());
            }
        }, "lwjvm-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
