using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>The in-memory storage of the single-silo mode.</summary>
public static class GridMemorySiloBuilderExtensions
{
    /// <summary>
    /// Memory grain storage named <see cref="GridPostgresSiloBuilderExtensions.StorageName"/> and in-memory
    /// reminders. State is copied with Orleans' binary serializer: the provider's default (Newtonsoft JSON) was
    /// the largest cost of an in-memory placement.
    /// </summary>
    public static ISiloBuilder UseGridMemory(this ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage(GridPostgresSiloBuilderExtensions.StorageName, options => options
            .Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
        silo.UseInMemoryReminderService();
        return silo;
    }
}
