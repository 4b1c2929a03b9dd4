import type { ChatCompletionFunctionTool } from 'openai/resources/chat/completions'
import type { FunctionTool } from 'openai/resources/responses/responses'

/** The providers whose tool-declaration format GET /tools can answer in. */
export const declarationFormats = ['openai', 'responses', 'anthropic', 'gemini'] as const
export type DeclarationFormat = (typeof declarationFormats)[number]

/** What every format is made from: a tool's name, description and JSON Schema of its arguments. */
export interface ToolDescription {
  name: string
  description: string
  parameters: Record<string, unknown>
}

export interface AnthropicTool {
  name: string
  description: string
  input_schema: Record<string, unknown>
}

export interface GeminiTool {
  functionDeclarations: Array<{ name: string; description: string; parametersJsonSchema: Record<string, unknown> }>
}

/**
 * The registry's tools as the `tools` parameter of each provider's request: Chat Completions
 * function tools, Responses function tools, Anthropic tools, or one Gemini tool holding every
 * function declaration (with the full JSON Schema in `parametersJsonSchema`).
 */
export function declareTools(tools: readonly ToolDescription[], format: DeclarationFormat) {
  switch (format) {
    case 'openai':
      return tools.map(({ name, description, parameters }): ChatCompletionFunctionTool => ({
        type: 'function',
        function: { name, description, parameters },
      }))
    case 'responses':
      // Not strict: strict mode demands every property be required, which optional arguments are not.
      return tools.map(({ name, description, parameters }): FunctionTool => ({ type: 'function', name, description, parameters, strict: false }))
    case 'anthropic':
      return tools.map(({ name, description, parameters }): AnthropicTool => ({ name, description, input_schema: parameters }))
    case 'gemini':
      return [
        {
          functionDeclarations: tools.map(({ name, description, parameters }) => ({ name, description, parametersJsonSchema: parameters })),
        } satisfies GeminiTool,
      ]
  }
}
