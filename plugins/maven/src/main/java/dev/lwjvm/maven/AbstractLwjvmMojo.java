package dev.lwjvm.maven;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.maven.artifact.Artifact;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;

/**
 * What every lwjvm goal shares: the settings of the POM's {@code <configuration>}, the manifest
 * they become (or the one {@code <manifest>} names), and the lwjvm command that does the work.
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
    protected abstract void execute(File manifestFile) throws MojoExecutionException, MojoFailureException;

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
        File m = null;
        if (manifest != null) {
            List<String> set = inlineSettings();
            if (!set.isEmpty()) {
                throw new MojoExecutionException("lwjvm: <manifest> " + manifest + " is used as it is: "
                        + "set " + String.join(", ", set) + " in it instead of the POM");
            }
            m = manifest.isAbsolute() ? manifest : new File(project.getBasedir(), manifest.getPath());
            if (!m.isFile()) {
                throw new MojoExecutionException("lwjvm: manifest not found: " + m);
            }
        } else if (needsManifest()) {
            m = writeManifest();
        }
        execute(m);
    }

    private List<String> inlineSettings() {
        List<String> set = new ArrayList<>();
        if (memory != null) set.add("memory");
        if (ports != null && !ports.isEmpty()) set.add("ports");
        if (jvmOptions != null && !jvmOptions.isEmpty()) set.add("jvmOptions");
        if (env != null && !env.isEmpty()) set.add("env");
        if (mainClass != null) set.add("mainClass");
        if (args != null && !args.isEmpty()) set.add("args");
        return set;
    }

    /** The image directory lwjvm build and run write (target/lwjvm/image). */
    protected File imageDirectory() {
        return new File(outputDirectory, "image");
    }

    /** The application's name: the setting, the manifest's name:, else from the artifactId. */
    protected String appName() throws MojoExecutionException {
        if (name != null && !name.isEmpty()) {
            return name;
        }
        if (manifest != null) {
            File m = manifest.isAbsolute() ? manifest : new File(project.getBasedir(), manifest.getPath());
            try {
                Matcher mt = Pattern.compile("(?m)^name:\\s*[\"']?([A-Za-z0-9._-]+)")
                        .matcher(new String(Files.readAllBytes(m.toPath()), StandardCharsets.UTF_8));
                if (mt.find()) {
                    return mt.group(1);
                }
            } catch (IOException e) {
                throw new MojoExecutionException("lwjvm: cannot read " + m + ": " + e.getMessage(), e);
            }
            throw new MojoExecutionException("lwjvm: " + m + " has no top-level name:");
        }
        return ManifestWriter.defaultName(project.getArtifactId());
    }

    private File writeManifest() throws MojoExecutionException {
        File appJar = jar;
        if (appJar == null) {
            appJar = project.getArtifact() == null ? null : project.getArtifact().getFile();
        }
        if (appJar == null || !appJar.isFile()) {
            appJar = new File(project.getBuild().getDirectory(), project.getBuild().getFinalName() + ".jar");
        }
        if (!appJar.isFile()) {
            throw new MojoExecutionException("lwjvm: no application jar (" + appJar + "): run the package "
                    + "phase first, as in 'mvn package lwjvm:" + goalName() + "', or set <jar>");
        }
        ManifestWriter w = new ManifestWriter(appName(), appJar);
        generatedOutside.add(appJar);
        boolean bootJar = ManifestWriter.isSpringBootJar(appJar);
        if (!bootJar) {
            // A Spring Boot jar carries its libraries inside; any other jar needs the runtime ones.
            for (Artifact a : project.getArtifacts()) {
                String scope = a.getScope();
                if (a.getFile() != null && a.getArtifactHandler().isAddedToClasspath()
                        && (Artifact.SCOPE_COMPILE.equals(scope) || Artifact.SCOPE_RUNTIME.equals(scope))) {
                    w.classpath.add(a.getFile());
                    generatedOutside.add(a.getFile());
                }
            }
        }
        w.mainClass = mainClass;
        w.args = args;
        w.jvmOptions = jvmOptions;
        w.env = env;
        w.memory = memory;
        w.ports = ports;
        File out = new File(outputDirectory, "app.yaml");
        try {
            w.write(out);
        } catch (IOException e) {
            throw new MojoExecutionException("lwjvm: cannot write " + out + ": " + e.getMessage(), e);
        }
        getLog().info("lwjvm: manifest " + out + (bootJar ? " (Spring Boot jar " + appJar.getName() + ")" : ""));
        return out;
    }

    /** The goal's name, for messages. */
    protected abstract String goalName();

    /**
     * Runs lwjvm with `arguments`, its output in Maven's log; its error line fails the build. A
     * command that reads the manifest also gets --allow-outside for the files the plugin put in it
     * (in target/ and the local repository, outside target/lwjvm) and for {@code <allowOutside>}.
     */
    protected int lwjvm(List<String> arguments, boolean failOnNonZero) throws MojoExecutionException, MojoFailureException {
        List<String> a = new ArrayList<>(arguments);
        if (needsManifest()) {
            List<File> allowed = new ArrayList<>(generatedOutside);
            if (allowOutside != null) {
                allowed.addAll(allowOutside);
            }
            int at = 1;
            for (File f : allowed) {
                a.add(at++, "--allow-outside");
                a.add(at++, f.getAbsolutePath());
            }
        }
        return new Cli(executable, project.getBasedir(), getLog()).run(a, failOnNonZero);
    }
}
