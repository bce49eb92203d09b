/** Thread.sleep sleeps at least as long as asked, and not grossly longer (loose bounds for TCG). */
public class SleepAccuracy {
    static long sleepMs(long ms) throws InterruptedException {
        long t0 = System.nanoTime();
        Thread.sleep(ms);
        return (System.nanoTime() - t0) / 1_000_000;
    }

    public static void main(String[] args) throws Exception {
        for (long ms : new long[] {1, 10, 100, 500}) {
            long took = sleepMs(ms);
            System.out.println("sleep " + ms + " ms: at least " + (took >= ms)
                    + ", under " + (ms + 1000) + " ms " + (took < ms + 1000));
        }
        long t0 = System.currentTimeMillis();
        Thread.sleep(200);
        long wall = System.currentTimeMillis() - t0;
        System.out.println("wall clock moved with it: " + (wall >= 190 && wall < 1500));
    }
}
