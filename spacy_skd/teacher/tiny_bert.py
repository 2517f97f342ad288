"""A tiny transformer teacher built offline, for tests and smoke runs.

Real teachers (a spacy-transformers pipeline over e.g. RoBERTa) need weights from
a model hub. Tests and the smoke workflow must run with no network, so they build
`make_tiny_bert(path)` instead: a randomly initialised BERT of a few hundred
kilobytes with its own WordPiece vocabulary, saved in the Hugging Face layout.
spacy-transformers loads it by path like any hub model:

    [components.transformer.model]
    @architectures = "spacy-transformers.TransformerModel.v3"
    name = "/path/to/tiny-bert"
    tokenizer_config = {"use_fast": true}
    transformer_config = {"output_hidden_states": true}

Its outputs are meaningless (random weights); it exists so that the code paths
of a transformer teacher (tokenizer, alignment, listeners, hidden states,
serialisation) run in seconds (`spacy-skd weights tiny` builds it). Importing
this module is cheap: torch and transformers are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CHARACTERS = tuple("abcdefghijklmnopqrstuvwxyz0123456789")
PUNCTUATION = tuple(".,;:!?'\"()[]{}-_/\\&%$#@*+=<>|~`^")
SUFFIXES = ("s", "es", "ed", "ing", "ly", "er", "est", "en", "ion", "al", "ment", "ness", "'s")

# Frequent English words (lowercase, one piece each), in a fixed order so the
# vocabulary and therefore the token ids are deterministic.
COMMON_WORDS = """
the of and to a in is it you that he was for on are with as i his they be at one
have this from or had by not word but what some we can out other were all there
when up use your how said an each she which do their time if will way about many
then them write would like so these her long make thing see him two has look more
day could go come did number sound no most people my over know water than call
first who may down side been now find any new work part take get place made live
where after back little only round man year came show every good me give our under
name very through just form sentence great think say help low line differ turn
cause much mean before move right boy old too same tell does set three want air well
also play small end put home read hand port large spell add even land here must big
high such follow act why ask men change went light kind off need house picture try
us again animal point mother world near build self earth father head stand own page
should country found answer school grow study still learn plant cover food sun four
between state keep eye never last let thought city tree cross farm hard start might
story saw far sea draw left late run don't while press close night real life few
north open seem together next white children begin got walk example ease paper group
always music those both mark often letter until mile river car feet care second book
carry took science eat room friend began idea fish mountain stop once base hear horse
cut sure watch color face wood main enough plain girl usual young ready above ever
red list though feel talk bird soon body dog family direct pose leave song measure
door product black short numeral class wind question happen complete ship area half
rock order fire south problem piece told knew pass since top whole king space heard
best hour better true during hundred five remember step early hold west ground
interest reach fast verb sing listen six table travel less morning ten simple several
vowel toward war lay against pattern slow center love person money serve appear road
map rain rule govern pull cold notice voice unit power town fine certain fly fall lead
cry dark machine note wait plan figure star box noun field rest correct able pound
done beauty drive stood contain front teach week final gave green oh quick develop
ocean warm free minute strong special mind behind clear tail produce fact street inch
multiply nothing course stay wheel full force blue object decide surface deep moon
island foot system busy test record boat common gold possible plane stead dry wonder
laugh thousand ago ran check game shape equate hot miss brought heat snow tire bring
yes distant fill east paint language among hello am being into because very its
"""


def tiny_bert_vocab(vocab_words: Optional[Iterable[str]] = None) -> List[str]:
    """The WordPiece vocabulary of `make_tiny_bert`, in id order: the special
    tokens, the lowercase letters and digits with their `##` continuations, the
    punctuation, a few common suffixes as `##` pieces, then the words
    (`vocab_words`, or the built-in `COMMON_WORDS`). Every lowercase ASCII word
    tokenizes without [UNK], character by character at worst."""
    words = COMMON_WORDS.split() if vocab_words is None else list(vocab_words)
    pieces = list(SPECIAL_TOKENS)
    pieces += CHARACTERS + tuple("##" + c for c in CHARACTERS)
    pieces += PUNCTUATION + tuple("##" + s for s in SUFFIXES)
    for word in words:
        if not word or any(ch.isspace() for ch in word):
            raise ValueError(f"vocab_words must be non-empty pieces without spaces: {word!r}")
        pieces.append(word.lower())
    seen = set()
    return [p for p in pieces if not (p in seen or seen.add(p))]


def make_tiny_bert(
    path: str | Path,
    *,
    hidden_size: int = 32,
    num_layers: int = 2,
    num_heads: int = 2,
    intermediate_size: int = 64,
    vocab_words: Optional[Iterable[str]] = None,
    seed: int = 0,
    max_position_embeddings: int = 512,
) -> Path:
    """Write a tiny randomly initialised BERT to the directory `path` and return
    it as a Path.

    The directory holds `config.json` and `model.safetensors` (a `BertModel`) and
    an uncased `BertTokenizerFast` (`vocab.txt`, `tokenizer.json`, ...), so that
    `transformers.AutoModel.from_pretrained(path)` and
    `AutoTokenizer.from_pretrained(path)` load it offline, and so does
    spacy-transformers' `TransformerModel.v3` with `name = path`. For tests and
    smoke runs only: the weights are random. About 250 kB with the defaults; the
    same arguments give the same weights and vocabulary.

    vocab_words: the whole-word pieces of the vocabulary, instead of the
    built-in list of common English words (see `tiny_bert_vocab`).
    seed: seeds the weights' initialisation; the global torch RNG is left as it
    was.
    max_position_embeddings: the longest input in wordpieces; also the
    tokenizer's `model_max_length`, which spacy-transformers uses to cut spans
    that would be longer.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    vocab = tiny_bert_vocab(vocab_words)
    vocab_file = path / "vocab.txt"
    vocab_file.write_text("".join(piece + "\n" for piece in vocab), encoding="utf8")
    tokenizer = BertTokenizerFast(
        vocab_file=str(vocab_file),
        do_lower_case=True,
        model_max_length=max_position_embeddings,
    )
    tokenizer.save_pretrained(str(path))

    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=vocab.index("[PAD]"),
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config)
    model.eval()
    model.save_pretrained(str(path), safe_serialization=True)
    return path
