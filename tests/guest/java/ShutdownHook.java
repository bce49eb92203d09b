/**
 * Shutdown hooks. Without arguments: main returns and the hook runs. With "wait": prints "ready"
 * and sleeps until a signal (SIGTERM, SIGINT) ends the JVM, which runs the hook.
 */
public class ShutdownHook {
    public static void main(String[] args) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("hook ran");
            System.out.flush();
        }));
        if (args.length > 0 && args[0].equals("wait")) {
            System.out.println("ready");
            System.out.flush();
            Thread.sleep(600_000);
            System.out.println("sleep ended without a signal");
            return;
        }
        System.out.println("main done");
    }
}
