package dev.lwjvm.plugin;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Runs the lwjvm command line: finds it (a path, or a name in PATH), streams its stdout and
 * stderr line by line into the build's log as they come, and keeps lwjvm's own one-line error
 * ({@code lwjvm: ...}, its last line on stderr) for the build's failure.
 */
public final class LwjvmCli {
    private final File executable;
    private final File directory;
    private final Consumer<String> log;

    /** lwjvm at `executable` (see {@link #resolve}), run in `directory`, its lines to `log`. */
    public LwjvmCli(File executable, File directory, Consumer<String> log) {
        this.executable = executable;
        this.directory = directory;
        this.log = log;
    }

    /**
     * The lwjvm executable: `executable` itself when it holds a '/' (relative to `baseDir`), else
     * the first in PATH. `setting` tells the user how to set it, for the error.
     */
    public static File resolve(String executable, File baseDir, String setting) throws PluginException {
        if (executable.contains("/")) {
            File f = new File(executable);
            if (!f.isAbsolute()) {
                f = new File(baseDir, executable);
            }
            if (!f.canExecute()) {
                throw new PluginException("lwjvm: " + f + " is not an executable (" + setting + ")");
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
        throw new PluginException("lwjvm: '" + executable + "' not found in PATH: install lwjvm "
                + "(pip install it, or make setup in its tree) or set " + setting);
    }

    /** How a run of lwjvm ended. */
    public static final class Result {
        public final int code;
        /** lwjvm's error line, when its last line on stderr was one ({@code lwjvm: ...}), else null. */
        public final String error;
        private final String command;

        Result(int code, String lastStderrLine, String command) {
            this.code = code;
            this.error = lastStderrLine != null && lastStderrLine.startsWith("lwjvm:") ? lastStderrLine : null;
            this.command = command;
        }

        /** The build's failure message for a non-zero exit: lwjvm's line, else the exit code. */
        public String failure() {
            // Any other last line on stderr is the application's own.
            return error != null ? error : "lwjvm " + command + " exited with code " + code;
        }
    }

    /**
     * Runs lwjvm with `arguments` (see {@link LwjvmCommand}) and waits for it; the input is the
     * build's own when `inheritInput`. Fails only when lwjvm cannot be started or the wait is
     * interrupted (then lwjvm is stopped).
     */
    public Result run(List<String> arguments, boolean inheritInput) throws PluginException {
        List<String> command = new ArrayList<>();
        command.add(executable.getPath());
        command.addAll(arguments);
        log.accept("lwjvm: running " + String.join(" ", command));
        ProcessBuilder pb = new ProcessBuilder(command).directory(directory);
        if (inheritInput) {
            pb.redirectInput(ProcessBuilder.Redirect.INHERIT);
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new PluginException("lwjvm: cannot start " + command.get(0) + ": " + e.getMessage(), e);
        }
        final String[] last = new String[1];
        Thread out = pump(p.getInputStream(), log);
        Thread err = pump(p.getErrorStream(), line -> {
            synchronized (last) {
                last[0] = line;
            }
            log.accept(line);
        });
        int code;
        try {
            code = p.waitFor();
            out.join();
            err.join();
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new PluginException("lwjvm: interrupted", e);
        }
        synchronized (last) {
            return new Result(code, last[0], arguments.isEmpty() ? "" : arguments.get(0));
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
                sink.accept("lwjvm plugin: reading lwjvm's output failed: " + e.getMessage());
            }
        }, "lwjvm-output");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
