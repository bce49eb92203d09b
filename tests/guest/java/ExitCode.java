/** System.exit with the code given as the first argument. */
public class ExitCode {
    public static void main(String[] args) {
        int code = Integer.parseInt(args[0]);
        System.out.println("exiting with " + code);
        System.exit(code);
    }
}
