package dev.lwjvm.maven;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.Log;

/**
 * Runs the lwjvm command line: finds it (a path, or a name in PATH), streams its stdout and
 * stderr into Maven's log line by line as they come, and turns lwjvm's own one-line error
 * ({@code lwjvm: ...} on stderr) into a MojoFailureException carrying that line.
 */
final class Cli {
    private final String executable;
    private final File basedir;
    private final Log log;

    Cli(String executable, File basedir, Log log) {
        this.executable = executable;
        this.basedir = basedir;
        this.log = log;
    }

    /** The lwjvm executable: `executable` itself when it holds a '/', else the first in PATH. */
    File resolve() throws MojoExecutionException {
        if (executable.contains("/")) {
            File f = new File(executable);
            if (!f.isAbsolute()) {
                f = new File(basedir, executable);
            }
            if (!f.canExecute()) {
                throw new MojoExecutionException("lwjvm: " + f + " is not an executable (the <executable> setting)");
            }
            return f;
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                File f = new File(dir.isEmpty() ? "." : dir, executable);
                if (f.isFile() && f.canExecute()) {
                    return f;
                }
            }
        }
        throw new MojoExecutionException("lwjvm: '" + executable + "' not found in PATH: install lwjvm "
                + "(pip install it, or make setup in its tree) or set <executable> / -Dlwjvm.executable=PATH");
    }

    /**
     * Runs lwjvm with `arguments` and returns its exit code. A non-zero code fails the build when
     * `failOnNonZero`: with lwjvm's last "lwjvm:" line when it printed one.
     */
    int run(List<String> arguments, boolean failOnNonZero) throws MojoExecutionException, MojoFailureException {
        List<String> command = new ArrayList<>();
        command.add(resolve().getPath());
        command.addAll(arguments);
        log.info("lwjvm: running " + String.join(" ", command));
        ProcessBuilder pb = new ProcessBuilder(command).directory(basedir);
        pb.redirectInput(ProcessBuilder.Redirect.INHERIT);
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new MojoExecutionException("lwjvm: cannot start " + command.get(0) + ": " + e.getMessage(), e);
        }
        String[] lastError = new String[1]; // the last stderr line
        Thread out = pump(p.getInputStream(), log::info);
        Thread err = pump(p.getErrorStream(), line -> {
            synchronized (lastError) {
                lastError[0] = line;
            }
            log.info(line);
        });
        int code;
        try {
            code = p.waitFor();
            out.join();
            err.join();
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new MojoExecutionException("lwjvm: interrupted", e);
        }
        if (code != 0 && failOnNonZero) {
            String line;
            synchronized (lastError) {
                line = lastError[0];
            }
            // lwjvm's error is its last line on stderr; any other last line is the app's own.
            throw new MojoFailureException(line != null && line.startsWith("lwjvm:") ? line
                    : "lwjvm " + arguments.get(0) + " exited with code " + code);
        }
        return code;
    }

    private static Thread pump(InputStream in, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                sink.accept("lwjvm-maven-plugin: reading lwjvm's output failed: " + e.getMessage());
            }
        }, "lwjvm-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
