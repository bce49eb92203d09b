/** The smallest app: a line, the arguments, exit 0. */
public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from lwjvm!");
        System.out.println("args: " + String.join(",", args));
    }
}
