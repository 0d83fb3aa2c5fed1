package io.rewrap;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

/**
 * Owns one native object. Calls run under a read lock so any number may run at once; close
 * takes the write lock, frees the object once and zeroes the handle, so closing twice is a
 * no-op and use after close throws {@link RewrapException.Closed} instead of crashing.
 */
abstract class NativeHandle implements AutoCloseable {
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final LongConsumer free;
    private long handle;

    NativeHandle(long handle, LongConsumer free) {
        this.handle = handle;
        this.free = free;
    }

    final <T> T with(LongFunction<T> call) {
        lock.readLock().lock();
        try {
            if (handle == 0) {
                throw new RewrapException.Closed("handle is closed");
            }
            return call.apply(handle);
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (handle != 0) {
                free.accept(handle);
                handle = 0;
            }
        } finally {
            lock.writeLock().unlock();
        }
    }
}
