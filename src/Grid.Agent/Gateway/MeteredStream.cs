namespace Grid.Agent.Gateway;

/// <summary>Bytes one proxied request moved, counted from several streams (an upgraded connection reads and writes at once).</summary>
internal sealed class RequestTally
{
    private long _in;
    private long _out;

    /// <summary>Bytes from the client (request headers and body, upgraded bytes read).</summary>
    public long In => Interlocked.Read(ref _in);

    /// <summary>Bytes to the client (response headers and body, upgraded bytes written).</summary>
    public long Out => Interlocked.Read(ref _out);

    /// <summary>Adds bytes received from the client.</summary>
    public void AddIn(long bytes) => Interlocked.Add(ref _in, bytes);

    /// <summary>Adds bytes sent to the client.</summary>
    public void AddOut(long bytes) => Interlocked.Add(ref _out, bytes);
}

/// <summary>
/// Wraps a client-facing stream and counts what is read from it as bytes in and what is written to it as bytes out;
/// everything else passes to the inner stream.
/// </summary>
/// <param name="inner">The request body, response body or upgraded connection.</param>
/// <param name="tally">Where the bytes are counted.</param>
/// <param name="ownsInner">Whether disposing closes <paramref name="inner"/>: an upgraded connection is closed by the proxy through this wrapper; bodies belong to the server.</param>
internal sealed class MeteredStream(Stream inner, RequestTally tally, bool ownsInner) : Stream
{
    /// <inheritdoc/>
    public override bool CanRead => inner.CanRead;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => inner.CanWrite;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override void Flush() => inner.Flush();

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        tally.AddIn(read);
        return read;
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        tally.AddIn(read);
        return read;
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        tally.AddOut(count);
    }

    /// <inheritdoc/>
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken);
        tally.AddOut(buffer.Length);
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing && ownsInner)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        if (ownsInner)
        {
            await inner.DisposeAsync();
        }

        await base.DisposeAsync();
    }
}
