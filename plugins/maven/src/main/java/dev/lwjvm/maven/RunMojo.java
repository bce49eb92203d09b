package dev.lwjvm.maven;

import java.io.File;

import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;

import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * Runs the application in the foreground ({@code lwjvm run}), building the image first when it
 * is stale; its output goes to Maven's log. A non-zero exit code fails the build, with lwjvm's
 * error line when it gave one. Run it after package: {@code mvn package lwjvm:run}.
 */
@Mojo(name = "run", requiresDependencyResolution = ResolutionScope.RUNTIME, threadSafe = true)
public class RunMojo extends AbstractLwjvmMojo {
    /** Kill the guest after this many seconds (lwjvm run --timeout; exit code 124). */
    @Parameter(property = "lwjvm.timeout")
    protected Double timeout;

    @Override
    protected void execute(File manifestFile) throws PluginException, MojoFailureException {
        lwjvm(LwjvmCommand.run(imageDirectory(), timeout, manifestFile), true);
    }

    @Override
    protected String goalName() {
        return "run";
    }
}
