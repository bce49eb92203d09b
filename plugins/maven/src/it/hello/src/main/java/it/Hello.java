package it;

import org.apache.commons.lang3.StringUtils;

/** Prints what it was given: its argument (through a library), a variable and a property. */
public class Hello {
    public static void main(String[] args) {
        System.out.println(StringUtils.capitalize(System.getenv("GREETING")) + " " + String.join(" ", args)
                + ", it.property=" + System.getProperty("it.property")
                + ", os.name=" + System.getProperty("os.name"));
        System.exit(args.length == 1 ? 0 : 3);
    }
}
