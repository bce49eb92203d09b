import java.nio.file.*;
import org.apache.lucene.analysis.standard.StandardAnalyzer;
import org.apache.lucene.document.*;
import org.apache.lucene.index.*;
import org.apache.lucene.search.*;
import org.apache.lucene.store.*;
import org.apache.lucene.queryparser.classic.QueryParser;

public class LuceneDemo {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("lucene"); // /tmp: tmpfs in the guest
        int docs = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        try (Directory d = FSDirectory.open(dir)) {
            System.out.println("directory: " + d.getClass().getSimpleName());
            try (IndexWriter w = new IndexWriter(d, new IndexWriterConfig(new StandardAnalyzer()))) {
                for (int i = 0; i < docs; i++) {
                    Document doc = new Document();
                    doc.add(new TextField("body", "document number " + i + (i % 7 == 0 ? " lucky seven" : " plain"), Field.Store.YES));
                    String id = String.format("%05d", i); doc.add(new StringField("id", id, Field.Store.YES)); doc.add(new SortedDocValuesField("id", new org.apache.lucene.util.BytesRef(id)));
                    w.addDocument(doc);
                }
            }
            try (DirectoryReader r = DirectoryReader.open(d)) {
                IndexSearcher s = new IndexSearcher(r);
                Query q = new QueryParser("body", new StandardAnalyzer()).parse("lucky AND seven");
                TopDocs top = s.search(q, 5, new Sort(new SortField("id", SortField.Type.STRING)));
                System.out.println("docs: " + r.numDocs() + ", hits: " + top.totalHits.value);
                for (ScoreDoc sd : top.scoreDocs) System.out.println("  id " + s.storedFields().document(sd.doc).get("id"));
            }
        }
    }
}
