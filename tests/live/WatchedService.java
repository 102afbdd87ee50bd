import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A live JVM for the tests of `dumpscan capture` and `dumpscan watch`: it holds known direct
 * memory, prints what the JDK's own BufferPoolMXBean says of it, and waits to be dumped.
 *
 * Usage (Netty's jars on the class path, NMT on):
 *   java -XX:NativeMemoryTracking=summary -XX:MaxDirectMemorySize=64m \
 *        -cp netty-buffer.jar:netty-common.jar WatchedService.java hold|grow
 *
 * hold: HELD, a static list of direct buffers of 1, 2, 3 and 4 MiB, and POOLED, two 1 MiB
 *       ByteBufs from a pooled Netty allocator of its own (one 16 MiB chunk); then one line
 *       "READY count=N capacity=N used=N" (the "direct" pool's figures) and it waits.
 * grow: after "READY", adds a 2 MiB direct buffer to HELD every 100 ms up to 120 MiB, printing
 *       "GREW capacity=N" each time, then waits.
 */
public class WatchedService {
    static final List<ByteBuffer> HELD = new ArrayList<>();
    static final List<ByteBuf> POOLED = new ArrayList<>();
    static final PooledByteBufAllocator ALLOCATOR = new PooledByteBufAllocator(true);

    public static void main(String[] args) throws Exception {
        for (int mib = 1; mib <= 4; mib++) {
            HELD.add(ByteBuffer.allocateDirect(mib << 20));
        }
        POOLED.add(ALLOCATOR.directBuffer(1 << 20));
        POOLED.add(ALLOCATOR.directBuffer(1 << 20));
        BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(p -> p.getName().equals("direct")).findFirst().orElseThrow();
        System.out.printf("READY count=%d capacity=%d used=%d%n",
                direct.getCount(), direct.getTotalCapacity(), direct.getMemoryUsed());
        System.out.flush();
        if (args.length > 0 && args[0].equals("grow")) {
            while (direct.getTotalCapacity() + (2 << 20) <= 120L << 20) {
                Thread.sleep(100);
                HELD.add(ByteBuffer.allocateDirect(2 << 20));
                System.out.printf("GREW capacity=%d%n", direct.getTotalCapacity());
                System.out.flush();
            }
        }
        Thread.sleep(Long.MAX_VALUE);
    }
}
