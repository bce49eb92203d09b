package dev.lwjvm.maven;

import java.io.File;

import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;

import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * Deploys the application ({@code lwjvm deploy -o outputDirectory/image}): builds the image if stale, starts the VM
 * detached and waits until the app is healthy, then returns; {@code lwjvm ps}, {@code lwjvm logs}
 * and lwjvm:stop take it from there. Run it after package: {@code mvn package lwjvm:deploy}.
 */
@Mojo(name = "deploy", requiresDependencyResolution = ResolutionScope.RUNTIME, threadSafe = true)
public class DeployMojo extends AbstractLwjvmMojo {
    /** Seconds the app gets to stop on lwjvm stop before its VM is killed (deploy --stop-timeout). */
    @Parameter(property = "lwjvm.stopTimeout")
    protected Double stopTimeout;

    @Override
    protected void execute(File manifestFile) throws PluginException, MojoFailureException {
        lwjvm(LwjvmCommand.deploy(imageDirectory(), stopTimeout, manifestFile, name), true);
    }

    @Override
    protected String goalName() {
        return "deploy";
    }
}
