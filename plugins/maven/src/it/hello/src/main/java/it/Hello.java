package it;

import org.apache.commons.lang3.StringUtils;

/**
 * Prints what it was given: its arguments (through a library), a variable and a property, and
 * exits 0 for one argument. With the one argument "serve" it runs until stopped instead, and a
 * shutdown hook says goodbye.
 */
public class Hello {
    public static void main(String[] args) throws InterruptedException {
        if (args.length == 1 && args[0].equals("serve")) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("Goodbye from Hello_IT")));
            System.out.println("serving until stopped");
            Thread.sleep(Long.MAX_VALUE);
        }
        System.out.println(StringUtils.capitalize(System.getenv("GREETING")) + " " + String.join(" ", args)
                + ", it.property=" + System.getProperty("it.property")
                + ", os.name=" + System.getProperty("os.name"));
        System.exit(args.length == 1 ? 0 : 3);
    }
}
