package dev.lwjvm.maven;

import java.io.File;
import java.util.Arrays;

import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.ResolutionScope;

/**
 * Builds the application's bootable image ({@code lwjvm build}) into outputDirectory/image: a
 * trimmed runtime, the class path, a class-data archive and the kernel. Bound to package.
 */
@Mojo(name = "build", defaultPhase = LifecyclePhase.PACKAGE, requiresDependencyResolution = ResolutionScope.RUNTIME,
        threadSafe = true)
public class BuildMojo extends AbstractLwjvmMojo {
    @Override
    protected void execute(File manifestFile) throws MojoExecutionException, MojoFailureException {
        lwjvm(Arrays.asList("build", manifestFile.getPath(), "-o", imageDirectory().getPath()), true);
    }

    @Override
    protected String goalName() {
        return "build";
    }
}
