package detect

import "strings"

// Token classes of the AI provider rules.
const (
	ClassHuggingFace = "huggingface"
	ClassReplicate   = "replicate"
	ClassGroq        = "groq"
	ClassPerplexity  = "perplexity"
	ClassXAI         = "xai"
	ClassMistral     = "mistral"
	ClassCohere      = "cohere"
	ClassTogether    = "together"
	ClassFireworks   = "fireworks"
	ClassDeepSeek    = "deepseek"
	ClassOpenRouter  = "openrouter"
	ClassLangChain   = "langchain"
	ClassPinecone    = "pinecone"
	ClassElevenLabs  = "elevenlabs"
	ClassNVIDIA      = "nvidia"
	ClassLangfuse    = "langfuse"
	ClassTavily      = "tavily"
	ClassFirecrawl   = "firecrawl"
	ClassWandB       = "wandb"
)

func aiMoreRules() []Rule {
	letters := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	hf := "hf_" + fake("hf", letters, 34)
	hfOrg := "api_org_" + fake("hforg", letters, 34)
	r8 := "r8_" + fake("r8", csAlnum, 37)
	gsk := "gsk_" + fake("gsk", csAlnum, 52)
	pplx := "pplx-" + fake("pplx", csAlnum, 48)
	xai := "xai-" + fake("xai", csAlnum, 80)
	mistral := fake("mistral", csAlnum, 32)
	cohere := fake("cohere", csAlnum, 40)
	tgp := "tgp_v1_" + fake("tgp", csURL, 43)
	fw := "fw_" + fake("fw", csAlnum, 24)
	deepseek := "sk-" + fake("deepseek", csHex, 32)
	openrouter := "sk-or-v1-" + fake("openrouter", csHex, 64)
	lsPT := "lsv2_pt_" + fake("lspt1", csHex, 32) + "_" + fake("lspt2", csHex, 10)
	lsSK := "lsv2_sk_" + fake("lssk1", csHex, 32) + "_" + fake("lssk2", csHex, 10)
	pcsk := "pcsk_" + fake("pcsk1", csAlnum, 6) + "_" + fake("pcsk2", csAlnum, 63)
	eleven := "sk_" + fake("eleven", csHex, 48)
	nvapi := "nvapi-" + fake("nvapi", csURL, 64)
	lf := "sk-lf-" + fakeUUID("langfuse")
	tvly := "tvly-dev-" + fake("tvly", csAlnum, 32)
	fc := "fc-" + fake("firecrawl", csHex, 32)
	wandb := fake("wandb", csHex, 40)
	return []Rule{
		sampled(shapeRule("huggingface-token", ClassHuggingFace, "Hugging Face user access token (hf_)",
			[]string{"hf_"}, isAlnum, 4.0, segRun(isLetter, 34, 34)),
			[]Sample{
				tp("HF_TOKEN=@@", hf),
				tp("huggingface-cli login --token @@", hf),
				tp(`model = AutoModel.from_pretrained("meta-llama/Llama-3.1-8B", token="@@")`, hf),
			},
			"HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
			"hf_"+strings.Repeat("ab", 17),
			"self_"+hf,
		),
		sampled(tokenRule("huggingface-org-token", ClassHuggingFace, "Hugging Face organization API token (api_org_)",
			[]string{"api_org_"}, `api_org_[A-Za-z]{34}`, tailAlnum, 44, 4.0),
			[]Sample{
				tp("HF_ORG_TOKEN=@@", hfOrg),
				tp(`{"token": "@@"}`, hfOrg),
			},
			"api_org_"+strings.Repeat("x", 34),
			"api_org_name = 'acme'",
		),
		sampled(shapeRule("replicate-api-token", ClassReplicate, "Replicate API token (r8_)",
			[]string{"r8_"}, isAlnum, 4.0, segRun(isAlnum, 37, 37)),
			[]Sample{
				tp("REPLICATE_API_TOKEN=@@", r8),
				tp(`replicate.Client(api_token="@@")`, r8),
			},
			"REPLICATE_API_TOKEN=r8_xxxxxxxx",
			"r8_"+fake("r8", csAlnum, 20),
		),
		sampled(tokenRule("groq-api-key", ClassGroq, "Groq API key (gsk_)",
			[]string{"gsk_"}, `gsk_[A-Za-z0-9]{52}`, tailAlnum, 60, 4.0),
			[]Sample{
				tp("GROQ_API_KEY=@@", gsk),
				tp(`client = Groq(api_key="@@")`, gsk),
			},
			"GROQ_API_KEY=gsk_...",
			"gsk_"+fake("gsk", csAlnum, 30),
		),
		sampled(tokenRule("perplexity-api-key", ClassPerplexity, "Perplexity API key (pplx-)",
			[]string{"p|plx-"}, `pplx-[A-Za-z0-9]{48}`, tailAlnum, 56, 4.0),
			[]Sample{
				tp("PERPLEXITY_API_KEY=@@", pplx),
				tp(`client = OpenAI(api_key="@@", base_url="https://api.perplexity.ai")`, pplx),
			},
			"PERPLEXITY_API_KEY=pplx-xxxxxxxx",
			"pplx-"+fake("pplx", csAlnum, 30),
		),
		sampled(tokenRule("xai-api-key", ClassXAI, "xAI API key (xai-)",
			[]string{"xai-"}, `xai-[A-Za-z0-9]{80}`, tailAlnum, 88, 4.0),
			[]Sample{
				tp("XAI_API_KEY=@@", xai),
				tp(`curl https://api.x.ai/v1/chat/completions -H "Authorization: Bearer @@"`, xai),
			},
			"XAI_API_KEY=xai-...",
			"xai-grok-4-fast-reasoning",
		),
		validated(sampled(keyedRule("mistral-api-key", ClassMistral, "Mistral AI API key next to its key name",
			[]string{"mistral"}, `mistral`, `[A-Za-z0-9]{32}`, tailAlnum, 4.0),
			[]Sample{
				tp("MISTRAL_API_KEY=@@", mistral),
				tp(`mistral_api_key: "@@"`, mistral),
			},
			"MISTRAL_MODEL=mistral-large-latest",
			"mistral_api_key_hash: "+fake("mistralh", csHex, 32),
		), mixedCase(32)),
		validated(sampled(keyedRule("cohere-api-key", ClassCohere, "Cohere API key next to its key name",
			[]string{"cohere", "co_api_key", "co-api-key"}, `cohere|co[_.-]?api`, `[A-Za-z0-9]{40}`, tailAlnum, 4.0),
			[]Sample{
				tp("COHERE_API_KEY=@@", cohere),
				tp("CO_API_KEY=@@", cohere),
			},
			"COHERE_MODEL=command-r-plus",
			"cohere_api_key_sha: "+fake("cohereh", csHex, 40),
		), mixedCase(40)),
		sampled(tokenRule("together-api-key", ClassTogether, "Together AI API key (tgp_v1_)",
			[]string{"tgp_v1_"}, `tgp_v1_[A-Za-z0-9_-]{43}`, tailURL, 56, 4.0),
			[]Sample{
				tp("TOGETHER_API_KEY=@@", tgp),
				tp(`client = Together(api_key="@@")`, tgp),
			},
			"TOGETHER_API_KEY=tgp_v1_...",
			"tgp_v1_"+fake("tgp", csURL, 20),
		),
		validated(sampled(shapeRule("fireworks-api-key", ClassFireworks, "Fireworks AI API key (fw_)",
			[]string{"fw_"}, isAlnum, 3.5, segRun(isAlnum, 24, 24)),
			[]Sample{
				tp("FIREWORKS_API_KEY=@@", fw),
				tp(`client = Fireworks(api_key="@@")`, fw),
			},
			`{"fw_version": "1.2.3", "fw_update": true}`,
			"fw_"+strings.Repeat("abc", 8),
		), mixedCase(24)),
		sampled(keyedRule("deepseek-api-key", ClassDeepSeek, "DeepSeek API key (sk- and 32 hex) next to its key name",
			[]string{"deepseek"}, `deepseek`, `sk-[a-f0-9]{32}`, tailAlnum, 3.5),
			[]Sample{
				tp("DEEPSEEK_API_KEY=@@", deepseek),
				tp(`deepseek_api_key: "@@"`, deepseek),
			},
			"DEEPSEEK_MODEL=deepseek-chat",
			"DEEPSEEK_API_KEY=sk-xxxxxxxx",
		),
		sampled(tokenRule("openrouter-api-key", ClassOpenRouter, "OpenRouter API key (sk-or-v1-)",
			[]string{"sk-or-v1-"}, `sk-or-v1-[a-f0-9]{64}`, tailAlnum, 76, 3.0),
			[]Sample{
				tp("OPENROUTER_API_KEY=@@", openrouter),
				tp(`client = OpenAI(base_url="https://openrouter.ai/api/v1", api_key="@@")`, openrouter),
			},
			"OPENROUTER_API_KEY=sk-or-v1-...",
			"sk-or-v1-"+fake("openrouter", csHex, 40),
		),
		sampled(tokenRule("langsmith-api-key", ClassLangChain, "LangSmith personal access token (lsv2_pt_)",
			[]string{"lsv2_pt_"}, `lsv2_pt_[a-f0-9]{32}_[a-f0-9]{10}`, tailAlnum, 56, 3.0),
			[]Sample{
				tp("LANGSMITH_API_KEY=@@", lsPT),
				tp(`os.environ["LANGCHAIN_API_KEY"] = "@@"`, lsPT),
			},
			"LANGSMITH_API_KEY=lsv2_pt_your_langsmith_api_key_here",
			"lsv2_pt_test",
		),
		sampled(tokenRule("langsmith-service-key", ClassLangChain, "LangSmith service key (lsv2_sk_)",
			[]string{"lsv2_sk_"}, `lsv2_sk_[a-f0-9]{32}_[a-f0-9]{10}`, tailAlnum, 56, 3.0),
			[]Sample{
				tp("LANGSMITH_API_KEY=@@", lsSK),
				tp(`Client(api_key="@@")`, lsSK),
			},
			"lsv2_sk_...",
			"lsv2_sk_"+fake("lssk1", csHex, 32),
		),
		sampled(tokenRule("pinecone-api-key", ClassPinecone, "Pinecone API key (pcsk_)",
			[]string{"pcsk_"}, `pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{50,80}`, tailAlnum, 96, 4.0),
			[]Sample{
				tp("PINECONE_API_KEY=@@", pcsk),
				tp(`pc = Pinecone(api_key="@@")`, pcsk),
			},
			"PINECONE_API_KEY=pcsk_...",
			"pcsk_"+fake("pcsk1", csAlnum, 6)+"_short",
		),
		sampled(shapeRule("elevenlabs-api-key", ClassElevenLabs, "ElevenLabs API key (sk_ and 48 hex)",
			[]string{"sk_"}, isAlnum, 3.0, segRun(isHexLower, 48, 48)),
			[]Sample{
				tp("ELEVENLABS_API_KEY=@@", eleven),
				tp(`curl -H "xi-api-key: @@" https://api.elevenlabs.io/v1/user`, eleven),
			},
			"ELEVENLABS_API_KEY=sk_xxxxxxxx",
			"task_"+eleven,
			"sk_"+strings.Repeat("0", 48),
		),
		sampled(tokenRule("nvidia-api-key", ClassNVIDIA, "NVIDIA NGC or build.nvidia.com API key (nvapi-)",
			[]string{"nvapi-"}, `nvapi-[A-Za-z0-9_-]{64}`, tailURL, 72, 4.0),
			[]Sample{
				tp("NVIDIA_API_KEY=@@", nvapi),
				tp(`client = OpenAI(base_url="https://integrate.api.nvidia.com/v1", api_key="@@")`, nvapi),
			},
			"NVIDIA_API_KEY=nvapi-...",
			"nvapi-"+fake("nvapi", csURL, 30),
		),
		sampled(tokenRule("langfuse-secret-key", ClassLangfuse, "Langfuse secret key (sk-lf-)",
			[]string{"sk-lf-"}, `sk-lf-`+uuidRE, tailAlnum, 48, 3.5),
			[]Sample{
				tp("LANGFUSE_SECRET_KEY=@@", lf),
				tp(`langfuse = Langfuse(public_key="pk-lf-`+fakeUUID("lfpk")+`", secret_key="@@")`, lf),
			},
			"LANGFUSE_SECRET_KEY=sk-lf-...",
			"sk-lf-00000000-0000-0000-0000-000000000000",
		),
		sampled(tokenRule("tavily-api-key", ClassTavily, "Tavily API key (tvly-)",
			[]string{"tvly-"}, `tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}`, tailAlnum, 48, 4.0),
			[]Sample{
				tp("TAVILY_API_KEY=@@", tvly),
				tp(`client = TavilyClient(api_key="@@")`, tvly),
			},
			"TAVILY_API_KEY=tvly-YOUR_API_KEY",
			"tvly-dev-short",
		),
		sampled(tokenRule("firecrawl-api-key", ClassFirecrawl, "Firecrawl API key (fc-)",
			[]string{"fc-"}, `fc-[a-f0-9]{32}`, tailAlnum, 40, 3.0),
			[]Sample{
				tp("FIRECRAWL_API_KEY=@@", fc),
				tp(`app = FirecrawlApp(api_key="@@")`, fc),
			},
			"FIRECRAWL_API_KEY=fc-YOUR_API_KEY",
			"fc-"+fake("firecrawl", csHex, 16),
		),
		sampled(keyedRule("wandb-api-key", ClassWandB, "Weights & Biases API key (40 hex) next to its key name",
			[]string{"wandb"}, `wandb`, `[a-f0-9]{40}`, tailAlnum, 3.0),
			[]Sample{
				tp("WANDB_API_KEY=@@", wandb),
				tp("wandb_api_key: @@\n", wandb),
			},
			"WANDB_PROJECT=acme-evals",
			"WANDB_API_KEY="+wandb[:32],
		),
	}
}
