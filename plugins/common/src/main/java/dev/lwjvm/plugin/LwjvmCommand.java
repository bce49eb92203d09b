package dev.lwjvm.plugin;

import java.io.File;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The lwjvm command line of each goal (Maven) or task (Gradle): the arguments after the lwjvm
 * executable. The tables in docs/plugins.md list them; both plugins call only these.
 */
public final class LwjvmCommand {
    private LwjvmCommand() {
    }

    /** Where build, run and deploy put the image: {@code OUTPUT/image}. */
    public static File imageDirectory(File outputDirectory) {
        return new File(outputDirectory, "image");
    }

    /** {@code build MANIFEST -o IMAGE}. */
    public static List<String> build(File manifest, File image) {
        return new ArrayList<>(Arrays.asList("build", manifest.getPath(), "-o", image.getPath()));
    }

    /** {@code run -o IMAGE [--timeout S] MANIFEST}; `timeout` may be null. */
    public static List<String> run(File image, Double timeout, File manifest) {
        List<String> a = new ArrayList<>(Arrays.asList("run", "-o", image.getPath()));
        if (timeout != null) {
            a.addAll(Arrays.asList("--timeout", String.valueOf(timeout)));
        }
        a.add(manifest.getPath());
        return a;
    }

    /**
     * {@code deploy -o IMAGE [--stop-timeout S] MANIFEST [--name NAME]}; `stopTimeout` and `name`
     * (the build's own name setting, else lwjvm takes the manifest's) may be null.
     */
    public static List<String> deploy(File image, Double stopTimeout, File manifest, String name) {
        List<String> a = new ArrayList<>(Arrays.asList("deploy", "-o", image.getPath()));
        if (stopTimeout != null) {
            a.addAll(Arrays.asList("--stop-timeout", String.valueOf(stopTimeout)));
        }
        a.add(manifest.getPath());
        if (name != null && !name.isEmpty()) {
            a.addAll(Arrays.asList("--name", name));
        }
        return a;
    }

    /**
     * `arguments` (of build, run or deploy) with {@code --allow-outside PATH} after the command
     * word for each of `allowed`: the files outside the manifest's directory that it may name
     * (the generated manifest's jar and dependencies, and the build's allowOutside setting).
     */
    public static List<String> allowing(List<String> arguments, List<File> allowed) {
        List<String> a = new ArrayList<>(arguments);
        int at = 1;
        for (File f : allowed) {
            a.add(at++, "--allow-outside");
            a.add(at++, f.getAbsolutePath());
        }
        return a;
    }

    /** {@code stop [-t S] NAME}; `stopTimeout` may be null. */
    public static List<String> stop(Double stopTimeout, String name) {
        List<String> a = new ArrayList<>();
        a.add("stop");
        if (stopTimeout != null) {
            a.addAll(Arrays.asList("-t", String.valueOf(stopTimeout)));
        }
        a.add(name);
        return a;
    }
}
