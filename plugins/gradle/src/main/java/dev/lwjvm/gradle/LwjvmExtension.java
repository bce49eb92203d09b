package dev.lwjvm.gradle;

import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.gradle.api.Project;

/**
 * The {@code lwjvm { }} block: the same settings as the Maven plugin's configuration
 * (docs/plugins.md). Plain properties, so the block reads the same in Gradle 4.4 and 8.
 */
public class LwjvmExtension {
    private String executable = "lwjvm";
    private Object manifest;
    private String name;
    private String memory;
    private List<String> ports = new ArrayList<>();
    private List<String> jvmOptions = new ArrayList<>();
    private Map<String, String> env = new LinkedHashMap<>();
    private String mainClass;
    private List<String> args = new ArrayList<>();
    private Object jar;
    private Object outputDirectory;
    private boolean skip;
    private Double timeout;
    private Double stopTimeout;
    private List<Object> allowOutside = new ArrayList<>();
    private final Project project;

    public LwjvmExtension(Project project) {
        this.project = project;
    }

    /** The lwjvm command: a name looked up in PATH, or a path. */
    public String getExecutable() { return executable; }
    public void setExecutable(String executable) { this.executable = executable; }

    /** An existing app.yaml used as it is (then memory ... args must not be set). */
    public File getManifest() { return manifest == null ? null : project.file(manifest); }
    public void setManifest(Object manifest) { this.manifest = manifest; }

    /**
     * Files or directories outside the manifest's directory its jar, class path or files may come
     * from (lwjvm's --allow-outside); the generated manifest's jar and dependencies need none.
     */
    public List<File> getAllowOutside() {
        List<File> files = new ArrayList<>();
        for (Object o : allowOutside) {
            files.add(project.file(o));
        }
        return files;
    }
    public void setAllowOutside(List<Object> allowOutside) { this.allowOutside = new ArrayList<>(allowOutside); }

    /** The image and VM name; default: the manifest's, else the project's name. */
    public String getName() { return name; }
    public void setName(String name) { this.name = name; }

    /** vm.memory, such as 256M. */
    public String getMemory() { return memory; }
    public void setMemory(String memory) { this.memory = memory; }

    /** vm.ports, each HOST:GUEST. */
    public List<String> getPorts() { return ports; }
    public void setPorts(List<String> ports) { this.ports = new ArrayList<>(ports); }

    /** jvm.options. */
    public List<String> getJvmOptions() { return jvmOptions; }
    public void setJvmOptions(List<String> jvmOptions) { this.jvmOptions = new ArrayList<>(jvmOptions); }

    /** env. */
    public Map<String, String> getEnv() { return env; }
    public void setEnv(Map<String, String> env) { this.env = new LinkedHashMap<>(env); }

    /** app.main; default: the jar's Main-Class, the application plugin's main class. */
    public String getMainClass() { return mainClass; }
    public void setMainClass(String mainClass) { this.mainClass = mainClass; }

    /** app.args. */
    public List<String> getArgs() { return args; }
    public void setArgs(List<String> args) { this.args = new ArrayList<>(args); }

    /** The application jar; default: bootJar's archive if there is one, else jar's. */
    public File getJar() { return jar == null ? null : project.file(jar); }
    public void setJar(Object jar) { this.jar = jar; }

    /**
     * Where the generated app.yaml and the image (image/) go; default build/lwjvm. The build
     * directory comes from ProjectLayout (Gradle 4.1 on), not Project.getBuildDir(), which Gradle
     * 8.3 deprecated.
     */
    public File getOutputDirectory() {
        if (outputDirectory != null) {
            return project.file(outputDirectory);
        }
        return new File(project.getLayout().getBuildDirectory().get().getAsFile(), "lwjvm");
    }
    public void setOutputDirectory(Object outputDirectory) { this.outputDirectory = outputDirectory; }

    /** Skip every lwjvm task. */
    public boolean isSkip() { return skip; }
    public void setSkip(boolean skip) { this.skip = skip; }

    /** lwjvmRun: kill the guest after this many seconds. */
    public Double getTimeout() { return timeout; }
    public void setTimeout(Number timeout) { this.timeout = timeout == null ? null : timeout.doubleValue(); }

    /** lwjvmDeploy and lwjvmStop: seconds the app gets to stop before its VM is killed. */
    public Double getStopTimeout() { return stopTimeout; }
    public void setStopTimeout(Number stopTimeout) {
        this.stopTimeout = stopTimeout == null ? null : stopTimeout.doubleValue();
    }
}
