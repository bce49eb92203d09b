import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.common.collect.*;
import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;
import java.util.*;

/** Jackson and Guava: collections built with Guava, written and read back as JSON. */
public class JsonDemo {
    public record Order(String id, List<String> items, Map<String, Integer> counts) {}

    public static void main(String[] args) throws Exception {
        ListMultimap<String, String> byCustomer = MultimapBuilder.treeKeys().arrayListValues().build();
        for (int i = 0; i < 50; i++) byCustomer.put("c" + (i % 5), "item" + i);
        List<Order> orders = new ArrayList<>();
        for (String customer : byCustomer.keySet()) {
            List<String> items = ImmutableList.copyOf(byCustomer.get(customer));
            Multiset<Character> letters = TreeMultiset.create();
            items.forEach(s -> s.chars().forEach(ch -> letters.add((char) ch)));
            Map<String, Integer> counts = new TreeMap<>();
            letters.entrySet().forEach(e -> counts.put(String.valueOf(e.getElement()), e.getCount()));
            orders.add(new Order(customer, items, counts));
        }
        ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);
        String json = mapper.writeValueAsString(orders);
        Order[] back = mapper.readValue(json, Order[].class);
        System.out.println("orders " + back.length + ", json " + json.length() + " chars");
        System.out.println("sha256 " + Hashing.sha256().hashString(json, StandardCharsets.UTF_8));
        System.out.println("first " + mapper.writeValueAsString(back[0]).substring(0, 60));
    }
}
