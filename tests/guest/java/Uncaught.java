/** An exception nobody catches: the stack trace on stderr, exit status 1. */
public class Uncaught {
    static void inner(int n) {
        if (n == 0) {
            throw new IllegalStateException("boom");
        }
        inner(n - 1);
    }

    public static void main(String[] args) {
        System.out.println("before");
        inner(3);
        System.out.println("not reached");
    }
}
