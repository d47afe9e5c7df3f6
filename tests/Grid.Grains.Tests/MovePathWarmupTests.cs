using Grid.Hosting;

namespace Grid.Grains.Tests;

/// <summary>The failover path is compiled at silo start, without failing on any of its methods.</summary>
public sealed class MovePathWarmupTests
{
    [Fact]
    public void CompilesTheMovePathOfTheGridsAssemblies()
    {
        var compiled = MovePathWarmup.Compile([typeof(MovePathWarmup).Assembly, typeof(INodeGrain).Assembly]);

        // The node and reservation grains alone have hundreds of methods (with their async bodies).
        Assert.True(compiled > 500, $"{compiled} methods compiled");
    }
}
