import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/** Safepoints: worker threads in hot loops while main asks for full collections again and again. */
public class Safepoints {
    static volatile boolean stop;

    public static void main(String[] args) throws Exception {
        AtomicLong work = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            Thread th = new Thread(() -> {
                long local = 0;
                while (!stop) {
                    int[] garbage = new int[64];
                    local += garbage.length;
                    if ((local & 0xfff) == 0) {
                        work.addAndGet(local);
                        local = 0;
                        Thread.yield();
                    }
                }
            });
            th.start();
            threads.add(th);
        }
        for (int i = 0; i < 20; i++) {
            System.gc();
            Thread.sleep(5);
        }
        stop = true;
        for (Thread th : threads) {
            th.join(60_000);
        }
        boolean allDone = threads.stream().noneMatch(Thread::isAlive);
        System.out.println("20 full GCs with 8 running threads; threads finished: " + allDone);
        System.exit(allDone ? 0 : 1);
    }
}
