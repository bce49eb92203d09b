package dev.lwjvm.maven;

import java.io.File;

import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.ResolutionScope;

import dev.lwjvm.plugin.LwjvmCommand;
import dev.lwjvm.plugin.PluginException;

/**
 * Builds the application's bootable image ({@code lwjvm build}) into outputDirectory/image: a
 * trimmed runtime, the class path, a class-data archive and the kernel. Bound to package.
 */
@Mojo(name = "build", defaultPhase = LifecyclePhase.PACKAGE, requiresDependencyResolution = ResolutionScope.RUNTIME,
        threadSafe = true)
public class BuildMojo extends AbstractLwjvmMojo {
    @Override
    protected void execute(File manifestFile) throws PluginException, MojoFailureException {
        lwjvm(LwjvmCommand.build(manifestFile, imageDirectory()), true);
    }

    @Override
    protected String goalName() {
        return "build";
    }
}
