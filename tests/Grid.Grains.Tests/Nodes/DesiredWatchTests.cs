using Grid.Nodes;

namespace Grid.Grains.Tests.Nodes;

/// <summary>The agent's long-poll on its own.</summary>
public sealed class DesiredWatchTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    [Fact]
    public void AWatchOfAnOutdatedVersionAnswersAtOnce()
    {
        var watch = new DesiredWatch();
        watch.Start(5L << 32);

        Assert.True(watch.WaitAsync((4L << 32) + 17, DesiredWatch.MaxWait).IsCompleted);
    }

    [Fact]
    public async Task AWatchOfTheCurrentVersionEndsWhenTheDesiredWorkloadsChange()
    {
        var watch = new DesiredWatch();
        watch.Start(1L << 32);
        var waiting = watch.WaitAsync(watch.Version, DesiredWatch.MaxWait);
        Assert.False(waiting.IsCompleted);

        watch.Changed();

        await waiting.WaitAsync(Guard);
        Assert.Equal((1L << 32) + 1, watch.Version);
    }

    [Fact]
    public async Task AWatchWithNoChangeEndsAfterItsWait()
    {
        var watch = new DesiredWatch();
        var waiting = watch.WaitAsync(watch.Version, TimeSpan.FromMilliseconds(50));

        await waiting.WaitAsync(Guard);
        Assert.Equal(0, watch.Version);
    }
}
