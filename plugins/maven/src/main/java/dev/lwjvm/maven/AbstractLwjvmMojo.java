package dev.lwjvm.maven;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.maven.artifact.Artifact;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;

import dev.lwjvm.plugin.AppManifest;
import dev.lwjvm.plugin.LwjvmCli;
import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * What every lwjvm goal shares: the settings of the POM's {@code <configuration>}, the manifest
 * they become (or the one {@code <manifest>} names), and the lwjvm command that does the work.
 * The command lines, the manifest and the run of lwjvm are lwjvm-plugin-common's, shared with the
 * Gradle plugin.
 */
public abstract class AbstractLwjvmMojo extends AbstractMojo {

    @Parameter(defaultValue = "${project}", readonly = true, required = true)
    protected MavenProject project;

    /**
     * The lwjvm command: a name looked up in PATH, or a path (relative to the project's
     * directory).
     */
    @Parameter(property = "lwjvm.executable", defaultValue = "lwjvm")
    protected String executable;

    /**
     * An existing manifest (app.yaml) to use as it is. Without it the goals write one into
     * {@code outputDirectory} from the project and the settings below; with it, setting any of
     * memory, ports, jvmOptions, env, mainClass or args is an error (say them in the manifest).
     */
    @Parameter(property = "lwjvm.manifest")
    protected File manifest;

    /**
     * The application's name (lwjvm's image and VM name: a-z, 0-9, '.', '_', '-'). Default: the
     * manifest's name, or the artifactId in lower case with other characters replaced by '-'.
     */
    @Parameter(property = "lwjvm.name")
    protected String name;

    /** Guest memory, such as 256M or 1G (the manifest's vm.memory; lwjvm's default: 256M). */
    @Parameter(property = "lwjvm.memory")
    protected String memory;

    /** Ports forwarded from 127.0.0.1 to the guest, each HOST:GUEST (vm.ports). */
    @Parameter
    protected List<String> ports;

    /** JVM options after lwjvm's own, replacing the same setting (jvm.options). */
    @Parameter
    protected List<String> jvmOptions;

    /** The application's environment variables (env); LANG=C.UTF-8 is added unless set. */
    @Parameter
    protected Map<String, String> env;

    /**
     * The main class (app.main). Default: the jar's Main-Class (Start-Class for a Spring Boot
     * jar).
     */
    @Parameter(property = "lwjvm.mainClass")
    protected String mainClass;

    /** The application's arguments (app.args); on the command line comma-separated. */
    @Parameter(property = "lwjvm.args")
    protected List<String> args;

    /**
     * The application jar. Default: the project's artifact as the package phase left it (for a
     * Spring Boot project, the repackaged executable jar), else target/FINALNAME.jar.
     */
    @Parameter(property = "lwjvm.jar")
    protected File jar;

    /** Where the generated manifest (app.yaml) and the image (image/) go. */
    @Parameter(property = "lwjvm.outputDirectory", defaultValue = "${project.build.directory}/lwjvm")
    protected File outputDirectory;

    /** Skip this goal. */
    @Parameter(property = "lwjvm.skip", defaultValue = "false")
    protected boolean skip;

    /**
     * Files or directories outside the manifest's directory that its jar, class path or files may
     * come from (lwjvm's --allow-outside). The generated manifest's own jar and dependencies are
     * allowed without it; set it for a {@code <manifest>} that names such paths.
     */
    @Parameter
    protected List<File> allowOutside;

    /** The generated manifest's files outside its directory: the jar and the dependencies. */
    private final List<File> generatedOutside = new ArrayList<>();

    /** What the goal does once the manifest is known. */
    protected abstract void execute(File manifestFile) throws PluginException, MojoFailureException;

    /** Whether the goal needs a manifest (stop needs only the name). */
    protected boolean needsManifest() {
        return true;
    }

    @Override
    public final void execute() throws MojoExecutionException, MojoFailureException {
        if (skip) {
            getLog().info("lwjvm: skipped");
            return;
        }
        if ("pom".equals(project.getPackaging()) && manifest == null) {
            getLog().info("lwjvm: skipped (a pom project has no jar; set <manifest> to use one)");
            return;
        }
        try {
            File m = null;
            if (manifest != null) {
                m = manifestFile();
                AppManifest.checkExisting(m, AppManifest.settingsSet(memory, ports, jvmOptions, env, mainClass, args),
                        "the POM");
            } else if (needsManifest()) {
                m = writeManifest();
            }
            execute(m);
        } catch (PluginException e) {
            throw new MojoExecutionException(e.getMessage(), e);
        }
    }

    private File manifestFile() {
        return manifest.isAbsolute() ? manifest : new File(project.getBasedir(), manifest.getPath());
    }

    /** The image directory lwjvm build and run write (target/lwjvm/image). */
    protected File imageDirectory() {
        return LwjvmCommand.imageDirectory(outputDirectory);
    }

    /** The application's name: the setting, the manifest's name:, else from the artifactId. */
    protected String appName() throws PluginException {
        if (name != null && !name.isEmpty()) {
            return name;
        }
        if (manifest != null) {
            return AppManifest.nameIn(manifestFile());
        }
        return AppManifest.defaultName(project.getArtifactId());
    }

    private File writeManifest() throws PluginException {
        File appJar = jar;
        if (appJar == null) {
            appJar = project.getArtifact() == null ? null : project.getArtifact().getFile();
        }
        if (appJar == null || !appJar.isFile()) {
            appJar = new File(project.getBuild().getDirectory(), project.getBuild().getFinalName() + ".jar");
        }
        if (!appJar.isFile()) {
            throw new PluginException("lwjvm: no application jar (" + appJar + "): run the package "
                    + "phase first, as in 'mvn package lwjvm:" + goalName() + "', or set <jar>");
        }
        AppManifest w = new AppManifest(appName(), appJar);
        boolean bootJar = AppManifest.isSpringBootJar(appJar);
        if (!bootJar) {
            // A Spring Boot jar carries its libraries inside; any other jar needs the runtime ones.
            for (Artifact a : project.getArtifacts()) {
                String scope = a.getScope();
                if (a.getFile() != null && a.getArtifactHandler().isAddedToClasspath()
                        && (Artifact.SCOPE_COMPILE.equals(scope) || Artifact.SCOPE_RUNTIME.equals(scope))) {
                    w.classpath.add(a.getFile());
                }
            }
        }
        w.mainClass = mainClass;
        w.args = args;
        w.jvmOptions = jvmOptions;
        w.env = env;
        w.memory = memory;
        w.ports = ports;
        generatedOutside.addAll(w.files());
        File out = new File(outputDirectory, "app.yaml");
        w.write(out, "Written by lwjvm-maven-plugin from the POM; set <manifest> to use your own.");
        getLog().info("lwjvm: manifest " + out + (bootJar ? " (Spring Boot jar " + appJar.getName() + ")" : ""));
        return out;
    }

    /** The goal's name, for messages. */
    protected abstract String goalName();

    /**
     * Runs lwjvm with `arguments` (LwjvmCommand), its output in Maven's log; a non-zero exit fails
     * the build with lwjvm's error line when `failOnNonZero`. Returns lwjvm's exit code. A command
     * that reads the manifest also gets --allow-outside for the files the plugin put in it (in
     * target/ and the local repository, outside target/lwjvm) and for {@code <allowOutside>}.
     */
    protected int lwjvm(List<String> arguments, boolean failOnNonZero) throws PluginException, MojoFailureException {
        List<String> a = arguments;
        if (needsManifest()) {
            List<File> allowed = new ArrayList<>(generatedOutside);
            if (allowOutside != null) {
                allowed.addAll(allowOutside);
            }
            a = LwjvmCommand.allowing(arguments, allowed);
        }
        File exe = LwjvmCli.resolve(executable, project.getBasedir(), "<executable> / -Dlwjvm.executable=PATH");
        LwjvmCli.Result r = new LwjvmCli(exe, project.getBasedir(), getLog()::info).run(a, true);
        if (r.code != 0 && failOnNonZero) {
            throw new MojoFailureException(r.failure());
        }
        return r.code;
    }
}
