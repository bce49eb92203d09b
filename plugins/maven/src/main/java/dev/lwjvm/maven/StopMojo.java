package dev.lwjvm.maven;

import java.io.File;

import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;

import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * Stops the deployed application ({@code lwjvm stop NAME}): SIGTERM to the JVM, so its shutdown
 * hooks run; killed after stopTimeout. The name is the name setting, the manifest's, or the
 * artifactId's.
 */
@Mojo(name = "stop", threadSafe = true)
public class StopMojo extends AbstractLwjvmMojo {
    /** Seconds the app gets to stop before its VM is killed (lwjvm stop -t; default: the deploy's). */
    @Parameter(property = "lwjvm.stopTimeout")
    protected Double stopTimeout;

    @Override
    protected boolean needsManifest() {
        return false;
    }

    @Override
    protected void execute(File manifestFile) throws PluginException, MojoFailureException {
        lwjvm(LwjvmCommand.stop(stopTimeout, appName()), true);
    }

    @Override
    protected String goalName() {
        return "stop";
    }
}
