import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * The CPU-bound program of `make bench`'s SMP part (lwjvm/smpbench.py): a fixed amount of
 * independent work (TASKS tasks of a xorshift loop each) summed by a parallel stream on the common
 * fork-join pool, which the JVM sizes from the CPUs it counts. One warm-up round (so the JIT has
 * compiled the loop), then ROUNDS timed rounds; prints each round's time and the result, which
 * is the same for any CPU count, and how busy each CPU was during the timed rounds (the share of
 * its time not idle in /proc/stat's cpuN lines; nothing if /proc/stat cannot be read).
 *
 * Usage: SmpWork [millions of iterations a round, default 1000] [rounds, default 3]
 */
public class SmpWork {
    static final int TASKS = 64;

    static long task(int i, long iterations) {
        long x = 0x9E3779B97F4A7C15L ^ i;
        long acc = 0;
        for (long k = 0; k < iterations; k++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            acc += x & 0xff;
        }
        return acc;
    }

    static long round(long perTask) {
        return IntStream.range(0, TASKS).parallel().mapToLong(i -> task(i, perTask)).sum();
    }

    /** {busy, total} clock ticks of each cpuN line of /proc/stat, or null if unreadable. */
    static List<long[]> cpuTicks() {
        List<long[]> cpus = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/stat"))) {
                String[] f = line.trim().split("\\s+");
                if (!f[0].startsWith("cpu") || f[0].equals("cpu")) {
                    continue;
                }
                long total = 0;
                for (int i = 1; i < f.length; i++) {
                    total += Long.parseLong(f[i]);
                }
                long idle = Long.parseLong(f[4]) + (f.length > 5 ? Long.parseLong(f[5]) : 0);
                cpus.add(new long[] {total - idle, total});
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
        return cpus;
    }

    public static void main(String[] args) {
        long millions = args.length > 0 ? Long.parseLong(args[0]) : 1000;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        long perTask = millions * 1_000_000L / TASKS;
        System.out.println("smp: cpus " + Runtime.getRuntime().availableProcessors()
                + ", " + TASKS + " tasks of " + perTask + " iterations");
        long warm = round(perTask / 20);
        System.out.println("smp: warm-up " + warm);
        long result = 0;
        List<long[]> before = cpuTicks();
        for (int r = 0; r < rounds; r++) {
            long t0 = System.nanoTime();
            result = round(perTask);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.println("smp: round " + (r + 1) + " ms " + ms);
        }
        List<long[]> after = cpuTicks();
        if (before != null && after != null && before.size() == after.size()) {
            StringBuilder busy = new StringBuilder("smp: busy %");
            for (int c = 0; c < after.size(); c++) {
                long total = after.get(c)[1] - before.get(c)[1];
                long used = after.get(c)[0] - before.get(c)[0];
                busy.append(" cpu").append(c).append(' ')
                        .append(total > 0 ? 100 * used / total : 0);
            }
            System.out.println(busy);
        }
        System.out.println("smp: result " + result);
    }
}
