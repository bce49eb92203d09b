package dev.lwjvm.plugin;

/**
 * A problem the build's user can fix (lwjvm not found, a manifest missing, settings that
 * contradict each other), its message one line starting with {@code lwjvm: }. Each plugin turns
 * it into its build tool's failure (MojoExecutionException, GradleException).
 */
public final class PluginException extends Exception {
    private static final long serialVersionUID = 1L;

    public PluginException(String message) {
        super(message);
    }

    public PluginException(String message, Throwable cause) {
        super(message, cause);
    }
}
