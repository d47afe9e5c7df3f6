using Grid.Host.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddGridHost();

var app = builder.Build();
app.MapGridEndpoints();
app.Run();

/// <summary>Entry point, visible to in-process tests.</summary>
public partial class Program;
