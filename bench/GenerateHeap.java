import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import com.sun.management.HotSpotDiagnosticMXBean;

/**
 * Fills a heap with ordinary application objects, then dumps it: the benchmark's input.
 * Maps of strings to small records, lists, strings of varied lengths, primitive and object
 * arrays, a long linked list, nested graphs, and some direct buffers (a few kept, a few
 * dropped). The mix is fixed by a seed, so every run builds the same heap.
 *
 * Usage: java -Xmx12g -XX:+UseParallelGC GenerateHeap TARGET_BYTES OUT.hprof [gz]
 *
 * With "gz", the dump is taken by `jcmd PID GC.heap_dump -gz=1 OUT` instead: gzip members as
 * the JVM itself compresses them (only jcmd writes that format).
 */
public class GenerateHeap {
    static final List<Object> KEEP = new ArrayList<>();
    static final List<ByteBuffer> BUFFERS = new ArrayList<>();

    record Customer(String name, long id, int[] scores, Map<String, Object> attributes) {}

    static final class TreeNode {
        TreeNode left;
        TreeNode right;
        Object value;
    }

    static TreeNode tree(Random random, int depth) {
        TreeNode node = new TreeNode();
        node.value = random.nextBoolean() ? Long.valueOf(random.nextLong()) : "v" + random.nextInt(1000);
        if (depth > 0) {
            node.left = tree(random, depth - 1);
            node.right = tree(random, depth - 1);
        }
        return node;
    }

    public static void main(String[] args) throws Exception {
        long target = Long.parseLong(args[0]);
        String out = args[1];
        Random random = new Random(42);
        Runtime runtime = Runtime.getRuntime();
        long objects = 0;
        LinkedList<Object> list = new LinkedList<>();
        KEEP.add(list);
        for (int i = 0; i < 32; i++) {
            BUFFERS.add(ByteBuffer.allocateDirect(64 << 10 << (i % 5)));
            ByteBuffer.allocateDirect(32 << 10);
        }
        for (long batch = 0; runtime.totalMemory() - runtime.freeMemory() < target; batch++) {
            Map<String, Customer> customers = new HashMap<>();
            for (int i = 0; i < 10_000; i++) {
                Map<String, Object> attributes = new HashMap<>();
                attributes.put("tier", "gold-" + (i % 7));
                attributes.put("since", Long.valueOf(batch * 10_000 + i));
                String name = "customer-" + batch + "-" + i + "-".repeat(random.nextInt(20));
                Customer c = new Customer(name, batch * 10_000 + i, new int[random.nextInt(12)], attributes);
                customers.put(name, c);
                objects += 9;
            }
            KEEP.add(customers);
            Object[] row = new Object[random.nextInt(64) + 1];
            for (int i = 0; i < row.length; i++) {
                row[i] = i % 3 == 0 ? new long[random.nextInt(16)] : new byte[random.nextInt(256)];
            }
            KEEP.add(row);
            for (int i = 0; i < 2_000; i++) {
                list.add(new StringBuilder("entry ").append(i).toString());
            }
            KEEP.add(tree(random, 8));
            objects += row.length + 4_000 + 1_000;
        }
        System.out.println("objects (approx.): " + objects + ", heap used: " + (runtime.totalMemory() - runtime.freeMemory()));
        if (args.length > 2 && args[2].equals("gz")) {
            // GC.heap_dump's -gz is not offered through the MXBean: ask jcmd, as an operator would.
            String jcmd = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
            String pid = Long.toString(ProcessHandle.current().pid());
            Process p = new ProcessBuilder(jcmd, pid, "GC.heap_dump", "-gz=1", out).inheritIO().start();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("jcmd GC.heap_dump failed");
            }
            return;
        }
        ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).dumpHeap(out, true);
    }
}
