import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

/** 150 Java threads alive at once (they meet at a barrier), each counting; all joined. */
public class ManyThreads {
    public static void main(String[] args) throws Exception {
        int n = 150;
        CyclicBarrier barrier = new CyclicBarrier(n + 1);
        AtomicInteger count = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Thread t = new Thread(() -> {
                try {
                    barrier.await();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
                for (int k = 0; k < 1000; k++) {
                    count.incrementAndGet();
                }
            });
            t.start();
            threads.add(t);
        }
        barrier.await();
        System.out.println("all " + n + " threads started together");
        for (Thread t : threads) {
            t.join();
        }
        System.out.println("count: " + count.get());
    }
}
