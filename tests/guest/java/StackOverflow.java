/** StackOverflowError through the guard pages, caught, three times, and the thread goes on. */
public class StackOverflow {
    static int depth;

    static void recurse() {
        depth++;
        recurse();
    }

    public static void main(String[] args) {
        for (int i = 0; i < 3; i++) {
            depth = 0;
            try {
                recurse();
            } catch (StackOverflowError e) {
                System.out.println("caught StackOverflowError, deep: " + (depth > 1000));
            }
        }
        System.out.println("still running");
    }
}
