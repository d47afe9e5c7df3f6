namespace Grid.Grains.Tests;

public sealed class WriteCoalescerTests
{
    [Fact]
    public async Task WritesThatCompleteSynchronouslyNeverLeaveALaterWriterWaiting()
    {
        var writes = 0;
        var coalescer = new WriteCoalescer(() =>
        {
            writes++;
            return Task.CompletedTask;
        });

        await coalescer.WriteAsync();
        var second = coalescer.WriteAsync();

        Assert.Same(second, await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(10))));
        await second;
        Assert.Equal(2, writes);
    }
}
