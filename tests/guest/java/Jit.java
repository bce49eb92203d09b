import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/**
 * The JIT runs and its code is right: a hot loop, then the compilation time the JVM reports. Run
 * with one compiler at a time (-XX:TieredStopAtLevel=1: C1; -XX:-TieredCompilation: C2).
 */
public class Jit {
    static long mix(long x, int i) {
        return (x * 31 + i) ^ (x >>> 7);
    }

    public static void main(String[] args) {
        long x = 0;
        for (int round = 0; round < 50; round++) {
            for (int i = 0; i < 100_000; i++) {
                x = mix(x, i);
            }
        }
        CompilationMXBean c = ManagementFactory.getCompilationMXBean();
        System.out.println("result: " + x);
        System.out.println("compiler present: " + (c != null));
        System.out.println("compiled something: " + (c != null && c.getTotalCompilationTime() > 0));
    }
}
