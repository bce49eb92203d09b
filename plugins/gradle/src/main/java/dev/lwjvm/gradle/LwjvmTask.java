package dev.lwjvm.gradle;

import java.io.File;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.gradle.api.DefaultTask;
import org.gradle.api.GradleException;
import org.gradle.api.Project;
import org.gradle.api.Task;
import org.gradle.api.artifacts.Configuration;
import org.gradle.api.tasks.Internal;
import org.gradle.api.tasks.TaskAction;

import dev.lwjvm.plugin.AppManifest;
import dev.lwjvm.plugin.LwjvmCli;
import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * One lwjvm command over the project: writes the manifest the {@code lwjvm { }} settings describe
 * (or takes the one they name), runs lwjvm with its output in Gradle's log, and turns lwjvm's
 * one-line error into the task's failure. It always runs (it has no outputs Gradle could check).
 * The command lines, the manifest and the run of lwjvm are lwjvm-plugin-common's, shared with the
 * Maven plugin.
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
        try {
            File manifest = ext.getManifest();
            if (manifest != null) {
                AppManifest.checkExisting(manifest, AppManifest.settingsSet(ext.getMemory(), ext.getPorts(),
                        ext.getJvmOptions(), ext.getEnv(), ext.getMainClass(), ext.getArgs()), "build.gradle");
            } else if (command != Command.STOP) {
                manifest = writeManifest();
            }
            File image = LwjvmCommand.imageDirectory(ext.getOutputDirectory());
            List<String> arguments;
            switch (command) {
                case BUILD:
                    arguments = LwjvmCommand.build(manifest, image);
                    break;
                case RUN:
                    arguments = LwjvmCommand.run(image, ext.getTimeout(), manifest);
                    break;
                case DEPLOY:
                    arguments = LwjvmCommand.deploy(image, ext.getStopTimeout(), manifest, ext.getName());
                    break;
                default:
                    arguments = LwjvmCommand.stop(ext.getStopTimeout(), appName());
                    break;
            }
            if (command != Command.STOP) {
                // The manifest lives in build/lwjvm; its jar and dependencies (build/libs, Gradle's
                // caches) are outside it, so they are allowed by name, with the lwjvm { } setting's.
                List<File> allowed = new ArrayList<>(generatedOutside);
                allowed.addAll(ext.getAllowOutside());
                arguments = LwjvmCommand.allowing(arguments, allowed);
            }
            File exe = LwjvmCli.resolve(ext.getExecutable(), getProject().getProjectDir(),
                    "lwjvm { executable = '/path/to/lwjvm' }");
            LwjvmCli.Result r = new LwjvmCli(exe, getProject().getProjectDir(), line -> getLogger().lifecycle(line))
                    .run(arguments, false);
            if (r.code != 0) {
                throw new GradleException(r.failure());
            }
        } catch (PluginException e) {
            throw new GradleException(e.getMessage(), e);
        }
    }

    private String appName() throws PluginException {
        if (ext.getName() != null) {
            return ext.getName();
        }
        File manifest = ext.getManifest();
        if (manifest != null) {
            return AppManifest.nameIn(manifest);
        }
        return AppManifest.defaultName(getProject().getName());
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

    private File writeManifest() throws PluginException {
        File jar = ext.getJar();
        Task archive = archiveTask(getProject());
        if (jar == null && archive != null) {
            jar = archiveFile(archive);
        }
        if (jar == null || !jar.isFile()) {
            throw new PluginException("lwjvm: no application jar" + (jar == null ? "" : " (" + jar + ")")
                    + ": apply the java plugin or set lwjvm { jar = ... }");
        }
        boolean bootJar = AppManifest.isSpringBootJar(jar);
        AppManifest w = new AppManifest(appName(), jar);
        Configuration runtime = getProject().getConfigurations().findByName("runtimeClasspath");
        if (!bootJar && runtime != null) {
            // A Spring Boot jar carries its libraries inside; any other jar needs the runtime ones.
            w.classpath.addAll(runtime.getFiles());
        }
        w.mainClass = ext.getMainClass() != null ? ext.getMainClass() : (bootJar ? null : applicationMainClass());
        w.args = ext.getArgs();
        w.jvmOptions = ext.getJvmOptions();
        w.env = ext.getEnv();
        w.memory = ext.getMemory();
        w.ports = ext.getPorts();
        generatedOutside.addAll(w.files());
        File out = new File(ext.getOutputDirectory(), "app.yaml");
        w.write(out, "Written by the lwjvm Gradle plugin from build.gradle; set lwjvm { manifest = ... } to use your own.");
        getLogger().lifecycle("lwjvm: manifest " + out + (bootJar ? " (Spring Boot jar " + jar.getName() + ")" : ""));
        return out;
    }
}
