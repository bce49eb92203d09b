package dev.lwjvm.maven;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;

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
    protected void execute(File manifestFile) throws MojoExecutionException, MojoFailureException {
        List<String> a = new ArrayList<>();
        a.add("deploy");
        a.add("-o");
        a.add(imageDirectory().getPath());
        if (stopTimeout != null) {
            a.add("--stop-timeout");
            a.add(String.valueOf(stopTimeout));
        }
        a.add(manifestFile.getPath());
        if (name != null && !name.isEmpty()) {
            a.add("--name");
            a.add(name);
        }
        lwjvm(a, true);
    }

    @Override
    protected String goalName() {
        return "deploy";
    }
}
