import PipelineKit

print("custom transform example")
