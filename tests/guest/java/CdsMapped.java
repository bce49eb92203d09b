/** The class-data archive is mapped: the VM reports "sharing" (as in java -version). */
public class CdsMapped {
    public static void main(String[] args) {
        String info = System.getProperty("java.vm.info");
        System.out.println("sharing: " + info.contains("sharing"));
    }
}
