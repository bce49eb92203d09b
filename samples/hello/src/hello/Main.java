package hello;

import java.lang.management.ManagementFactory;

/** The lwjvm demo: greets, says what it runs on, and says goodbye from a shutdown hook. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("Goodbye.")));
        String who = args.length > 0 ? String.join(" ", args) : "world";
        System.out.println("Hello, " + who + ", from Java on lwjvm!");
        System.out.println("Java " + System.getProperty("java.version") + " ("
                + System.getProperty("java.vm.name") + ", " + System.getProperty("java.vm.info")
                + ")");
        System.out.println("Kernel: " + System.getProperty("os.name") + " "
                + System.getProperty("os.version") + ", " + Runtime.getRuntime().availableProcessors()
                + " CPU, max heap " + Runtime.getRuntime().maxMemory() / (1024 * 1024) + " MiB");
        System.out.println("JVM up for " + ManagementFactory.getRuntimeMXBean().getUptime() + " ms");
    }
}
