package dev.lwjvm.gradle;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.gradle.api.Plugin;
import org.gradle.api.Project;
import org.gradle.api.Task;

/**
 * Plugin {@code dev.lwjvm}: the {@code lwjvm { }} extension and the tasks lwjvmBuild, lwjvmRun,
 * lwjvmDeploy (after jar, or bootJar when Spring Boot's plugin is applied) and lwjvmStop.
 */
public class LwjvmPlugin implements Plugin<Project> {
    static final String GROUP = "lwjvm";

    @Override
    public void apply(final Project project) {
        LwjvmExtension ext = project.getExtensions().create("lwjvm", LwjvmExtension.class, project);
        add(project, ext, "lwjvmBuild", LwjvmTask.Command.BUILD, "Builds the application's lwjvm image (lwjvm build).");
        add(project, ext, "lwjvmRun", LwjvmTask.Command.RUN, "Runs the application on lwjvm in the foreground (lwjvm run).");
        add(project, ext, "lwjvmDeploy", LwjvmTask.Command.DEPLOY, "Deploys the application on lwjvm, detached (lwjvm deploy).");
        add(project, ext, "lwjvmStop", LwjvmTask.Command.STOP, "Stops the deployed application (lwjvm stop).");
    }

    private static void add(final Project project, LwjvmExtension ext, String name, LwjvmTask.Command command,
            String description) {
        LwjvmTask task = project.getTasks().create(name, LwjvmTask.class);
        task.setGroup(GROUP);
        task.setDescription(description);
        task.configure(ext, command);
        if (command != LwjvmTask.Command.STOP) {
            // Evaluated when the task graph is made: bootJar if Spring Boot's plugin made one,
            // else jar; and whatever builds the runtime class path (project dependencies).
            task.dependsOn((Callable<List<Object>>) () -> {
                List<Object> deps = new ArrayList<>();
                if (ext.getManifest() != null) {
                    return deps;
                }
                Task archive = LwjvmTask.archiveTask(project);
                if (archive != null) {
                    deps.add(archive);
                    if (!"bootJar".equals(archive.getName()) && project.getConfigurations().findByName("runtimeClasspath") != null) {
                        deps.add(project.getConfigurations().getByName("runtimeClasspath"));
                    }
                }
                return deps;
            });
        }
    }
}
