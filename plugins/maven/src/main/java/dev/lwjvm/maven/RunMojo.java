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
    protected void execute(File manifestFile) throws MojoExecutionException, MojoFailureException {
        List<String> a = new ArrayList<>();
        a.add("run");
        a.add("-o");
        a.add(imageDirectory().getPath());
        if (timeout != null) {
            a.add("--timeout");
            a.add(String.valueOf(timeout));
        }
        a.add(manifestFile.getPath());
        lwjvm(a, true);
    }

    @Override
    protected String goalName() {
        return "run";
    }
}
