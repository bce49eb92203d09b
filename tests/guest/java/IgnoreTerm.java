import sun.misc.Signal;

/** Handles SIGTERM itself and keeps running: the host's stop timeout must end it. */
public class IgnoreTerm {
    public static void main(String[] args) throws Exception {
        Signal.handle(new Signal("TERM"), s -> {
            System.out.println("ignored SIG" + s.getName());
            System.out.flush();
        });
        System.out.println("ready");
        System.out.flush();
        Thread.sleep(600_000);
    }
}
