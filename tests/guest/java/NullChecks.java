/**
 * Implicit null checks: once compiled, a field load through a null reference is a SIGSEGV the JVM
 * turns into NullPointerException. Thousands of them, caught, in a hot loop.
 */
public class NullChecks {
    static final class Box {
        int value = 1;
    }

    static int load(Box b) {
        return b.value;
    }

    public static void main(String[] args) {
        Box[] boxes = {new Box(), null};
        int caught = 0;
        long sum = 0;
        for (int i = 0; i < 200_000; i++) {
            try {
                sum += load(boxes[i & 1]);
            } catch (NullPointerException e) {
                caught++;
            }
        }
        System.out.println("caught " + caught + " NullPointerExceptions, sum " + sum);
    }
}
